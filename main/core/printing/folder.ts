// A print backend that writes each document to a folder (mode 0600): the demo's printer, or an archive
// where no printer is attached. A job is complete once its file is written.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobState, PrintBackend, PrintJobRequest } from './backend.js';

export class FolderBackend implements PrintBackend {
  readonly name: string;
  private next = 1;
  private readonly done = new Set<string>();

  constructor(private readonly folder: string) {
    this.name = `folder:${folder}`;
  }

  async check(): Promise<void> {
    mkdirSync(this.folder, { recursive: true, mode: 0o700 });
  }

  async submit(job: PrintJobRequest): Promise<string> {
    await this.check();
    const id = `folder-${this.next++}`;
    const safe = job.title.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
    writeFileSync(join(this.folder, `${id}-${safe}.pdf`), job.document, { mode: 0o600 });
    this.done.add(id);
    return id;
  }

  async jobState(jobId: string): Promise<JobState> {
    return this.done.has(jobId) ? 'completed' : 'gone';
  }

  async cancel(): Promise<void> {}

  async pendingJobs(): Promise<string[]> {
    return [];
  }
}
