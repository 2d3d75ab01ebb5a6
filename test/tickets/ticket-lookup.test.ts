// A forgotten card, through the real terminal: staff type the holder's ticket number, the terminal
// finds the holder row offline (the demo's signed whitelist feed; no hub) and decides with the same
// presence and anti-passback rules as the card — the card then finds its holder already inside — and
// journals a staff decision (auth path staff-visual). Revoked, unknown and malformed numbers are refused,
// and the command is staff-only.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KioskConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { DEMO_STAFF_PIN } from '../../main/demo/constants.js';
import { writeDemoConfig } from '../../main/demo/config.js';
import { DEMO_RECORDS, DEMO_TICKET_NUMBERS } from '../../main/demo/data.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../main/demo/index.js';
import { tapDemoCard } from '../../main/demo/wallet.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { demoCards } from '../support/demo-cards.js';

const dataDir = mkdtempSync(join(tmpdir(), 'jpki-ticket-lookup-'));
let env: DemoEnvironment;
let terminal: Terminal;
let config: KioskConfig;

function journalRecords() {
  const data = KioskData.fromConfig(config, {});
  try {
    const out = [];
    for (let s = 1; s <= data.journal.head().seq; s++) out.push(data.journal.get(s)!);
    return out;
  } finally {
    data.close();
  }
}

beforeAll(async () => {
  await demoCards();
  cpSync(join(projectRoot(), 'var', 'demo', 'pki'), join(dataDir, 'demo', 'pki'), { recursive: true });
  config = writeDemoConfig(dataDir, 'gate', {
    demo: { enabled: true, vpcdPort: 36753 },
    policy: { stadium: { doubleTouchSeconds: 0 } },
  });
  env = await startDemoEnvironment(config, { timing: 'instant' });
  terminal = await createTerminal({ config, wallet: env.wallet, autoCheck: false });
  const until = Date.now() + 30_000;
  while ((await terminal.getStatus(undefined)).outOfService !== null && Date.now() < until)
    await new Promise((r) => setTimeout(r, 100));
}, 120_000);

afterAll(async () => {
  await terminal?.close();
  await env?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('staff lookup by ticket number', () => {
  it('is staff-only', async () => {
    await terminal.staffLock(undefined);
    await expect(terminal.lookupTicket({ ticketNumber: 'TK-1001' })).rejects.toMatchObject({
      code: 'STAFF_LOCKED',
    });
  });

  it('admits the holder offline as a staff decision; again and with the card: already inside', async () => {
    expect(config.sync.enabled ?? false).toBe(false);
    await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
    const holder = DEMO_TICKET_NUMBERS[0]!;
    const first = await terminal.lookupTicket({ ticketNumber: holder.number });
    expect(first).toMatchObject({ outcome: 'admitted', reasons: ['ok'], authPath: 'staff-visual' });
    expect(first.publicView.seat).toBe('1塁側 A-12');
    expect(first.journalSeq).toBeGreaterThan(0);
    const again = await terminal.lookupTicket({ ticketNumber: ` ${holder.number} ` });
    expect(again.outcome).toBe('refused');
    expect(again.publicView.headline).toBe('already_inside');
    // the holder's card shares the presence: the forgotten card found later does not let a second person in
    const card = await tapDemoCard(terminal, env.wallet, 'valid');
    expect(card.outcome).toBe('refused');
    expect(card.publicView.headline).toBe('already_inside');
    const mine = journalRecords().filter((r) => r.subject === DEMO_RECORDS.valid!.subject);
    expect(mine.map((r) => [r.outcome, r.authPath ?? null])).toEqual([
      ['admitted', 'staff-visual'],
      ['refused', 'staff-visual'],
      ['refused', card.authPath ?? null],
    ]);
    expect(card.authPath).not.toBe('staff-visual');
  }, 60_000);

  it('a revoked number is revoked, an unknown one not registered, a malformed one INVALID_REQUEST', async () => {
    await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
    const before = journalRecords().length;
    const revoked = await terminal.lookupTicket({ ticketNumber: DEMO_TICKET_NUMBERS[1]!.number });
    expect(revoked).toMatchObject({ outcome: 'refused', reasons: ['revoked'], authPath: 'staff-visual' });
    const unknown = await terminal.lookupTicket({ ticketNumber: 'TK-9999' });
    expect(unknown).toMatchObject({ outcome: 'refused', reasons: ['not_registered'] });
    await expect(terminal.lookupTicket({ ticketNumber: 'TK 1001; --' })).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    });
    // the two refusals are journaled; the malformed request is not
    expect(journalRecords().length).toBe(before + 2);
  });
});
