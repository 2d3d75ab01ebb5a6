// What a pull and a push share: the hub's address and connection pool, the request signer, the idle
// timeout, and where the hub's clock readings go (the skew the status reports).
import type http from 'node:http';
import type { RequestSigner } from '../../../protocol/http-signature.js';

export interface HubLink {
  base: URL;
  agent: http.Agent;
  signer: RequestSigner;
  idleTimeoutMs: number;
  ca?: Buffer;
  /** Aborted when the client stops: requests in flight (a long poll) end at once, none is retried. */
  signal?: AbortSignal;
  /**
   * A verified checkpoint answering this terminal's request states the hub's time (v2: nothing else
   * does): the client keeps the clock skew from it, against the local time it arrived.
   */
  noteHubTime(hubTime: number, receivedAt: number): void;
}
