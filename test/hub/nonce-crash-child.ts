// Child of hub-hardening.test.ts: records a request nonce in a hub.db the way a serving hub does, says so,
// and dies by SIGKILL without closing anything: what a crashed or killed hub process leaves behind.
import { SqliteHubStore } from '../../hub/sqlite-store.js';

const [file, terminalId, nonce] = process.argv.slice(2) as [string, string, string];
const store = new SqliteHubStore(file);
const fresh = store.useNonce(terminalId, nonce, Date.now() + 600_000);
process.stdout.write(`${fresh ? 'USED' : 'SEEN'}\n`, () => process.kill(process.pid, 'SIGKILL'));
