// `jpki-kiosk hub terminals list|disable|enable|rotate-key|retire`: the operator's fleet commands. A
// state change is stored at once and takes effect at the terminal's next contact (server.ts refuses a
// disabled terminal; a retiring one is told in its signed push reply to wipe once its journal is home).
import { readFileSync } from 'node:fs';
import { KioskError } from '../../base/errors.js';
import { canonicalTerminalKey } from '../../hub/enrolment.js';
import { fleetView, type FleetRow } from '../../hub/status-page.js';
import type { HubStore, TerminalState } from '../../hub/store.js';

export const TERMINALS_USAGE = `  terminals list [--site S] [--json]
                               every terminal (of site S): state, version, configuration version, last
                               contact, data age, queue length, out-of-service reason, alarms
  terminals disable ID [--reason TEXT]
                               refuse the terminal from its next contact: it shows out of service and
                               stops syncing until enabled
  terminals enable ID          lift a disable (a retired terminal stays retired)
  terminals rotate-key ID --public-key PEM
                               replace the terminal's key (its new HSM key); the old one is refused
  terminals retire ID [--reason TEXT]
                               the terminal uploads its whole journal, then wipes its personal data
                               (roster, whitelist rows, outputs) and stops deciding`;

function line(t: FleetRow): string {
  const age = (s: number | null) => (s === null ? '-' : `${s} s`);
  return [
    `${t.terminalId.padEnd(20)} ${t.state.padEnd(9)} ${t.siteId}/${t.gateId}`,
    `version ${t.version ?? '-'}`,
    `config ${t.configVersion ?? '-'}`,
    `last contact ${age(t.lastSeenSecondsAgo)} ago`,
    `data age ${age(t.dataAgeSeconds)}`,
    `queue ${t.queueLength ?? '-'}`,
    ...(t.outOfService ? [`out of service: ${t.outOfService}`] : []),
    ...t.alarms.map((a) => `ALARM ${a}`),
  ].join(', ');
}

export function terminalsCommand(
  store: HubStore,
  args: string[],
  o: { json: boolean; reason: string | null; publicKey: string | null; site?: string | null; now?: number },
): number {
  const [sub, id] = args;
  const now = o.now ?? Date.now();
  const print = (value: unknown, text: string) =>
    process.stdout.write(o.json ? JSON.stringify(value, null, 2) + '\n' : text + '\n');
  if (sub === 'list' || sub === undefined) {
    const rows = fleetView(store, now, o.site ?? undefined);
    print(rows, rows.length === 0 ? 'no terminals' : rows.map(line).join('\n'));
    return 0;
  }
  if (!id) throw new KioskError('INVALID_REQUEST', `hub terminals ${sub} needs a terminal id`);
  const states: Record<string, TerminalState> = { disable: 'disabled', enable: 'active', retire: 'retiring' };
  const state = states[sub];
  if (state) {
    const t = store.setTerminalState(id, state, state === 'active' ? null : o.reason, now);
    print(
      { terminalId: t.terminalId, state: t.state, reason: t.stateReason ?? null },
      `terminal ${id}: ${t.state}${t.stateReason ? ` (${t.stateReason})` : ''}; takes effect at its next contact`,
    );
    return 0;
  }
  if (sub === 'rotate-key') {
    if (!o.publicKey) throw new KioskError('INVALID_REQUEST', 'rotate-key needs --public-key PEM');
    const pem = canonicalTerminalKey(readFileSync(o.publicKey, 'utf8'));
    const t = store.replaceTerminalKey(id, pem, now);
    print(
      { terminalId: t.terminalId, rotated: true },
      `terminal ${id}: key replaced; the old key is refused`,
    );
    return 0;
  }
  throw new KioskError(
    'INVALID_REQUEST',
    `hub terminals: list, disable, enable, rotate-key or retire, not '${sub}'`,
  );
}
