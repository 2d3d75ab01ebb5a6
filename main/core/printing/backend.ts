// What a print backend does: check the printer, submit a document tagged with the session and request it
// belongs to, report a job's state, cancel a job. The Printer (printer.ts) supervises a backend and waits
// for completion; backends differ only in how they talk to the printer.

/** A document to print. The title is the tag the queue shows: ids only, never a name. */
export interface PrintJobRequest {
  document: Buffer;
  /** `kiosk:<sessionId>:<requestId>` or `slip:<kind>:<id>`: what the queue and staff see. */
  title: string;
  /** The session the document belongs to (null for slips outside a kiosk session). */
  sessionId: string | null;
  media: 'A4' | 'receipt-80mm';
}

/** pending: queued or printing; completed: out of the printer; stopped: the printer stopped with it
 * (out of paper, jam, offline); gone: cancelled or aborted, or unknown to the printer. */
export type JobState = 'pending' | 'completed' | 'stopped' | 'gone';

export interface PrintBackend {
  readonly name: string;
  /** Resolves while the printer accepts work; throws PRINTER_UNAVAILABLE naming why it does not. */
  check(): Promise<void>;
  /** Queues the document; resolves with the job id. */
  submit(job: PrintJobRequest): Promise<string>;
  jobState(jobId: string): Promise<JobState>;
  /** Removes the job (and its spooled document) from the queue. */
  cancel(jobId: string): Promise<void>;
  /** Jobs the queue still holds (ids), to prove a queue keeps nothing of a session. */
  pendingJobs(): Promise<string[]>;
}
