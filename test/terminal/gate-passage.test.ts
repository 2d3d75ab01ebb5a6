// Commit on passage, wired end to end: the terminal journals the grant, the software relay opens the
// gate, the demo's simulated patron walks through (or, every fifth time, does not), and the journal and
// presence follow the passage — never the grant. Cards through pcscd + vpcd, HSM in SoftHSM2.
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KioskConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { writeDemoConfig } from '../../main/demo/config.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../main/demo/index.js';
import { DEMO_STAFF_PIN } from '../../main/demo/provision.js';
import { tapDemoCard } from '../../main/demo/wallet.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { demoCards } from '../support/demo-cards.js';

const dataDir = mkdtempSync(join(tmpdir(), 'jpki-gate-'));
let env: DemoEnvironment;
let terminal: Terminal;
let config: KioskConfig;

async function journalRefersTo(
  seq: number,
  kind: 'passage' | 'annulment',
  timeoutMs = 4000,
): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const data = KioskData.fromConfig(config, {});
    try {
      const head = data.journal.head().seq;
      for (let s = seq + 1; s <= head; s++) {
        const record = data.journal.get(s);
        if (record?.kind === kind && record.ref === seq) return true;
      }
    } finally {
      data.close();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

function presenceOf(subject: string) {
  const data = KioskData.fromConfig(config, {});
  try {
    return data.terminal.presence(subject);
  } finally {
    data.close();
  }
}

beforeAll(async () => {
  await demoCards();
  cpSync(join(projectRoot(), 'var', 'demo', 'pki'), join(dataDir, 'demo', 'pki'), { recursive: true });
  config = writeDemoConfig(dataDir, 'gate', {
    demo: { enabled: true, vpcdPort: 36340 },
    // The same card enters again and again: no anti-passback, no double-touch merging.
    policy: {
      stadium: {
        doubleTouchSeconds: 0,
        reentry: 'allow',
        antiPassback: { mode: 'off', commitOn: 'passage' },
      },
    },
    actuators: {
      gate: { driver: 'software', passageInput: 1, passageTimeoutMs: 1500, pulseMs: 200 },
      signal: { driver: 'software' },
    },
  });
  env = await startDemoEnvironment(config, { timing: 'instant' });
  terminal = await createTerminal({
    config,
    wallet: env.wallet,
    softwareHid: env.hid?.bus,
    autoCheck: false,
  });
  const until = Date.now() + 15_000;
  while (
    (terminal.status().gate !== 'closed' || terminal.status().reader.state !== 'ready') &&
    Date.now() < until
  ) {
    await new Promise((r) => setTimeout(r, 25));
  }
  // Fail here, naming the cause, rather than later at a confusing tap.
  expect({ gate: terminal.status().gate, reader: terminal.status().reader.state }).toEqual({
    gate: 'closed',
    reader: 'ready',
  });
}, 120_000);

afterAll(async () => {
  await terminal?.close();
  await env?.stop();
});

describe('commit on passage at a demo gate', () => {
  it('journals grant then passage, moves presence only on the passage, and annuls the entry nobody walked through', async () => {
    expect(terminal.status().gate).toBe('closed');
    const subject = 'DEMO-P-0001';
    expect(presenceOf(subject)).toBeUndefined();
    const seqs: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const decision = await tapDemoCard(terminal, env.wallet, 'valid');
      expect(decision.outcome).toBe('admitted');
      seqs.push(decision.journalSeq!);
      const passed = await journalRefersTo(decision.journalSeq!, 'passage');
      if (i < 5) {
        expect(passed, `tap ${i} committed`).toBe(true);
        expect(presenceOf(subject)?.state).toBe('inside');
      } else {
        expect(passed, 'tap 5 had no passage').toBe(false);
      }
    }
    const data = KioskData.fromConfig(config, {});
    const grant = data.journal.get(seqs[4]!);
    data.close();
    expect(grant?.kind).toBe('grant');
    expect(await journalRefersTo(seqs[4]!, 'annulment')).toBe(true);

    await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
    const recent = await terminal.recentDecisions({ limit: 5 });
    expect(recent[0]).toMatchObject({ annulled: true, annulReason: 'turnstile_not_turned' });
    expect(recent.slice(1).every((r) => !r.annulled)).toBe(true);

    // Staff saw the person go through after all: the reversal is a passage in the journal.
    await terminal.reverseAnnulment({ decisionId: recent[0]!.decision.id });
    expect(await journalRefersTo(seqs[4]!, 'passage')).toBe(true);
  });
});
