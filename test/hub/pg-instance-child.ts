// Child of multi-instance.test.ts and hub-scale.test.ts (via instances.ts): one hub instance on a shared
// PostgreSQL store (or, given `-`, its SQLite file), serving the hub folder
// the test prepared, answering as the load balancer's authority. Says READY once listening; stops on
// SIGTERM, and a test may SIGKILL it at any moment instead.
import { openHubDir } from '../../hub/hub-dir.js';
import { createHub } from '../../hub/server.js';

const [dir, store, port, authority, indexKeyFile] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const hubDir = openHubDir(dir, { store: store === '-' ? null : store, indexKeyFile });
const hub = createHub({
  store: hubDir.store,
  publisher: hubDir.publisher,
  roots: hubDir.keys,
  hubId: hubDir.hubId,
  authority,
  // Only a cross-instance wake-up can answer a held poll early.
  longPollRecheckMs: 120_000,
});
void hub.app.listen({ host: '127.0.0.1', port: Number(port) }).then(() => process.stdout.write('READY\n'));
process.once('SIGTERM', () => {
  void hub.close().then(() => {
    hubDir.close();
    process.exit(0);
  });
});
