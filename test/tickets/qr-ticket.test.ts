// QR tickets through the real terminal: the core (SQLite stores, the demo's signed data, SoftHSM2 for
// the cards' side) with the software scanner. A ticket signed by the pinned publisher is admitted
// offline (no hub), the same ticket again is refused as already inside, a ticket on the revocation feed
// is revoked, and forged or foreign-signed tickets are refused; each decision is journaled as a ticket.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KioskConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';
import type { Decision } from '../../base/decision.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { writeDemoConfig } from '../../main/demo/config.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../main/demo/index.js';
import { demoPublisherKey } from '../../main/demo/provision.js';
import { DEMO_TICKETS } from '../../main/demo/data.js';
import { signTicket, type TicketFieldsInput } from '../../protocol/ticket.js';
import { SoftwareScanner } from '../../sim/scanner/software-scanner.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { demoCards } from '../support/demo-cards.js';

const dataDir = mkdtempSync(join(tmpdir(), 'jpki-ticket-'));
let env: DemoEnvironment;
let terminal: Terminal;
let config: KioskConfig;
const scanner = new SoftwareScanner();

const fields = (id: string, over: Partial<TicketFieldsInput> = {}): TicketFieldsInput => ({
  v: 1,
  id,
  eventId: 'DEMO-2026-FINAL',
  seat: '1塁側 B-1',
  zones: ['main'],
  gates: ['gate-a', 'gate-b'],
  validFrom: '2026-01-01T00:00:00+09:00',
  validTo: '2030-12-31T23:59:59+09:00',
  entries: 1,
  ...over,
});

/** Scans `text` and waits for the decision the terminal emits for it. */
function scan(text: string): Promise<Decision> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no decision within 10 s')), 10_000);
    const off = terminal.subscribe((event) => {
      if (event.name !== 'decision') return;
      clearTimeout(timer);
      off();
      resolve(event.payload);
    });
    expect(scanner.scan(text)).toBe(true);
  });
}

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
  // No hub anywhere: the sync section stays off, so every decision below is offline.
  // Double-touch merging off: the second scan is a second person showing the same ticket.
  config = writeDemoConfig(dataDir, 'gate', {
    demo: { enabled: true, vpcdPort: 36350 },
    policy: { stadium: { doubleTouchSeconds: 0 } },
  });
  env = await startDemoEnvironment(config, { timing: 'instant' });
  terminal = await createTerminal({ config, wallet: env.wallet, scanner, autoCheck: false });
  // Scans while the terminal is out of service are dropped (as with a card): wait until it is in service.
  const until = Date.now() + 30_000;
  while ((await terminal.getStatus(undefined)).outOfService !== null && Date.now() < until)
    await new Promise((r) => setTimeout(r, 100));
}, 120_000);

afterAll(async () => {
  await terminal?.close();
  await env?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('QR tickets through the software scanner', () => {
  it('a signed ticket is admitted offline, then already_inside; journaled as a ticket', async () => {
    expect(config.sync.enabled ?? false).toBe(false);
    const key = demoPublisherKey(config).privateKey;
    const ticket = signTicket(fields(DEMO_TICKETS[0].id), key);
    const first = await scan(ticket);
    expect(first).toMatchObject({ outcome: 'admitted', credential: 'qr_ticket', reasons: ['ok'] });
    expect(first.publicView.seat).toBe('1塁側 B-1');
    expect(first.journalSeq).toBeGreaterThan(0);
    const again = await scan(ticket);
    expect(again).toMatchObject({ outcome: 'refused', credential: 'qr_ticket' });
    expect(again.publicView.headline).toBe('already_inside');
    const records = journalRecords().filter((r) => r.subject === `ticket:${DEMO_TICKETS[0].id}`);
    expect(records.map((r) => r.outcome)).toEqual(['admitted', 'refused']);
    // The scanned text, a bearer credential, is not in the journal.
    expect(JSON.stringify(journalRecords())).not.toContain(ticket.split('.')[3]!);
  });

  it('a ticket on the revocation feed is revoked', async () => {
    const ticket = signTicket(fields(DEMO_TICKETS[1].id), demoPublisherKey(config).privateKey);
    const d = await scan(ticket);
    expect(d).toMatchObject({ outcome: 'refused', credential: 'qr_ticket', reasons: ['revoked'] });
  });

  it('forged tickets are refused: changed seat, foreign key, garbage', async () => {
    const key = demoPublisherKey(config).privateKey;
    const good = signTicket(fields('DEMO-T-0100'), key);
    const [prefix, body, kid, sig] = good.split('.') as [string, string, string, string];
    const changed = Buffer.from(body, 'base64url').toString('utf8').replace('B-1', 'A-1');
    const forgedSeat = [prefix, Buffer.from(changed, 'utf8').toString('base64url'), kid, sig].join('.');
    const foreign = signTicket(fields('DEMO-T-0101'), generateKeyPairSync('ed25519').privateKey);
    // A foreign key that claims the pinned publisher's id still fails the signature.
    const [, fBody, , fSig] = foreign.split('.') as [string, string, string, string];
    const impostor = [prefix, fBody, kid, fSig].join('.');
    for (const text of [forgedSeat, foreign, impostor, 'JKT1.xxx', 'https://example.com/not-a-ticket']) {
      const d = await scan(text);
      expect(d, text.slice(0, 30)).toMatchObject({
        outcome: 'refused',
        credential: 'qr_ticket',
        reasons: ['ticket_invalid'],
      });
    }
    // None of them moved presence: the real ticket of that number is still admitted.
    expect((await scan(good)).outcome).toBe('admitted');
  });

  it('a ticket naming a language shows it for that person', async () => {
    const d = await scan(
      signTicket(fields('DEMO-T-0200', { language: 'ko' }), demoPublisherKey(config).privateKey),
    );
    expect(d.outcome).toBe('admitted');
    expect(d.publicView.language).toBe('ko');
  });
});
