// The one thread that talks PKCS#11 (started by hsm/pkcs11-thread.ts): it answers typed requests
// (pkcs11-protocol.ts) one at a time with the calls in pkcs11-calls.ts and pkcs11-keys.ts, so that no C_* call (some HSMs
// take tens of milliseconds, a network HSM seconds) runs on the event loop that serves the UI.
import { parentPort } from 'node:worker_threads';
import * as calls from './pkcs11-calls.js';
import * as keys from './pkcs11-keys.js';
import type { WorkerCall, WorkerReply, WorkerRequest } from './pkcs11-protocol.js';

function handle(req: WorkerRequest): unknown {
  switch (req.op) {
    case 'init':
      return calls.load(req.module);
    case 'reinit':
      return calls.reinit();
    case 'tokens':
      return calls.tokens();
    case 'open':
      return calls.open(req.tokenLabel, req.tokenSerial, req.pin);
    case 'close':
      calls.close(req.sid);
      return null;
    case 'initToken':
      return calls.initToken(req.label, req.soPin, req.userPin);
    case 'keyInfo':
      return keys.keyInfo(calls.session(req.sid), req.label);
    case 'generateKey':
      return keys.generateKey(calls.session(req.sid), req.label, req.kind);
    case 'signDigest':
      return keys.signDigest(calls.session(req.sid), req.label, req.digest);
    case 'auditExtraction':
      return keys.auditExtraction(calls.session(req.sid), req.label);
  }
}

parentPort!.on('message', (msg: WorkerCall) => {
  let reply: WorkerReply;
  try {
    reply = { id: msg.id, ok: true, result: handle(msg.req) };
  } catch (error) {
    reply = { id: msg.id, ok: false, error: calls.failure(error) };
  }
  parentPort!.postMessage(reply);
});
