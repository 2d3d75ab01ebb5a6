// Child of pg-enrol-race.test.ts: one hub instance's store on the shared database, enrolling one terminal
// with a code; prints the outcome (the terminal, or the refusal's code) as one JSON line.
import { PgHubStore } from '../../hub/pg-store.js';

const [url, codeSha256, terminalId, publicKeyPem, at] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const store = new PgHubStore(url);
try {
  const t = store.enrolTerminal(codeSha256, { terminalId, publicKeyPem }, Number(at));
  process.stdout.write(`${JSON.stringify({ ok: t.terminalId })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ code: (error as { code?: string }).code ?? String(error) })}\n`);
} finally {
  store.close();
}
