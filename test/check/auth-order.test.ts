// The pipeline's authentication step against the real demo PKI, SoftHSM2 institution key and SQLite
// stores, with the virtual card in process so that every command the card sees can be inspected:
// revocation and the whitelist run before any unlock, 'auto' takes the PIN-less path when the card
// answers it and the holder's PIN (or a staff visual check) when it does not, and the decision names
// the path it took.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KioskConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';
import { systemClock } from '../../base/clock.js';
import type { Hsm } from '../../hsm/client.js';
import { hsmFromConfig } from '../../hsm/config.js';
import { InProcessTransport, type InProcessCard } from '../../main/core/card/in-process-transport.js';
import { institutionAuthenticatorFromConfig } from '../../main/core/card/institution-auth.js';
import type { TerminalAuthenticator } from '../../main/core/card/terminal-auth.js';
import { runCheck, type CardAuthentication, type CheckContext } from '../../main/core/check/pipeline.js';
import { buildTime } from '../../main/core/clock.js';
import { EntryLedger } from '../../main/core/terminal/entry-ledger.js';
import { loadTrustAnchors } from '../../main/core/verify/certificate.js';
import { writeDemoConfig } from '../../main/demo/config.js';
import { demoTrustedInstitutionCa } from '../../main/demo/hsm.js';
import { ensureDemoAssets, ensureDemoData } from '../../main/demo/provision.js';
import { SimulatedCard } from '../../sim/card/simulated-card.js';
import { enableTerminalAuth } from '../../sim/card/terminal-auth.js';
import { DEMO_PIN, demoCard } from '../../sim/pki/demo-pki.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { demoCards } from '../support/demo-cards.js';

const dataDir = mkdtempSync(join(tmpdir(), 'jpki-auth-order-'));
let config: KioskConfig;
let data: KioskData;
let hsm: Hsm;
let ledger: EntryLedger;
let cards: Awaited<ReturnType<typeof demoCards>>;

beforeAll(async () => {
  cards = await demoCards();
  cpSync(join(projectRoot(), 'var', 'demo', 'pki'), join(dataDir, 'demo', 'pki'), { recursive: true });
  config = writeDemoConfig(dataDir, 'auth-order', {
    actuators: { gate: null, signal: null },
    policy: { stadium: { doubleTouchSeconds: 0, reentry: 'allow', antiPassback: { mode: 'off' } } },
  });
  const assets = await ensureDemoAssets(config);
  data = KioskData.fromConfig(config, {});
  ensureDemoData(config, data, assets);
  hsm = hsmFromConfig(config);
  await hsm.start();
  const site = { ...config.site };
  ledger = new EntryLedger({ config, clock: systemClock, stores: () => data, site: () => site });
}, 120_000);

afterAll(async () => {
  data?.close();
  await hsm?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A demo card in process; `pinless: false` behaves like today's cards. Records every command. */
function card(name: string, pinless = true): InProcessCard & { sent: Uint8Array[]; sim: SimulatedCard } {
  const sim = SimulatedCard.fromFile(demoCard(cards, name).profilePath);
  if (pinless) enableTerminalAuth(sim.applet, { trusted: [demoTrustedInstitutionCa(config)] });
  const sent: Uint8Array[] = [];
  return {
    sim,
    sent,
    get atr() {
      return sim.atr;
    },
    reset: () => sim.reset(),
    respond: (command) => {
      sent.push(Uint8Array.from(command));
      return sim.respond(command);
    },
  };
}

/** The real institution authenticator, counting the unlocks it is asked for. */
async function countingAuthenticator(rateLimit?: {
  perMinute: number;
  burst: number;
}): Promise<TerminalAuthenticator & { calls: number }> {
  const real = await institutionAuthenticatorFromConfig(
    rateLimit ? { ...config, card: { ...config.card, unlockRate: rateLimit } } : config,
    hsm,
  );
  const counting = {
    method: real.method,
    calls: 0,
    authenticate: (...args: Parameters<TerminalAuthenticator['authenticate']>) => {
      counting.calls++;
      return real.authenticate(...args);
    },
  };
  return counting;
}

function context(auth: CardAuthentication): CheckContext {
  return {
    config,
    site: { ...config.site, direction: 'entry' },
    anchors: loadTrustAnchors(config.trust.anchors, config.trust.allowTestCa),
    data,
    auth,
    buildTime: buildTime(),
    lastHub: () => null,
    recentAdmits: ledger.recentAdmits,
  };
}

const ins = (sent: Uint8Array[], cla: number, ins: number) =>
  sent.filter((c) => c[0] === cla && c[1] === ins).length;

function pinAnswers(...answers: (string | null)[]) {
  const asked: { triesLeft: number; retry: boolean }[] = [];
  return {
    asked,
    askPin: async (request: { triesLeft: number; retry: boolean }) => {
      asked.push(request);
      return answers.shift() ?? null;
    },
  };
}

describe('revocation and the whitelist before any unlock', () => {
  it.each([
    ['revoked', 'revoked'],
    ['unregistered', 'not_registered'],
  ])('a %s card gets no unlock (%s) in terminal and auto mode', async (name, reason) => {
    for (const mode of ['terminal', 'auto'] as const) {
      const authenticator = await countingAuthenticator();
      const c = card(name);
      const pin = pinAnswers(DEMO_PIN);
      const auth: CardAuthentication =
        mode === 'terminal'
          ? { mode, authenticator }
          : { mode, authenticator, fallback: 'pin', askPin: pin.askPin };
      const { decision } = await runCheck(context(auth), new InProcessTransport(c));
      expect(decision).toMatchObject({ outcome: 'refused', reasons: [reason] });
      expect(decision.authPath).toBeUndefined();
      expect(authenticator.calls, mode).toBe(0);
      // the card saw no certificate verification, no EXTERNAL AUTHENTICATE and no signing command
      expect(ins(c.sent, 0x80, 0xa2) + ins(c.sent, 0x00, 0x82) + ins(c.sent, 0x80, 0x2a), mode).toBe(0);
      expect(pin.asked).toEqual([]);
    }
  });
});

describe("card.authMode 'auto'", () => {
  it('takes the PIN-less path with a card that answers it: no PIN, one unlock, one signature', async () => {
    const authenticator = await countingAuthenticator();
    const c = card('valid');
    const pin = pinAnswers(DEMO_PIN);
    const result = await runCheck(
      context({ mode: 'auto', authenticator, fallback: 'pin', askPin: pin.askPin }),
      new InProcessTransport(c),
    );
    expect(result.decision).toMatchObject({ outcome: 'admitted', reasons: ['ok'], authPath: 'pinless' });
    expect(pin.asked).toEqual([]);
    expect(authenticator.calls).toBe(1);
    expect(ins(c.sent, 0x80, 0x2a)).toBe(1);
    const { decision } = ledger.commit(result, false);
    expect(data.journal.get(decision.journalSeq!)).toMatchObject({ authPath: 'pinless' });
  });

  it("falls back to the holder's PIN with a card that does not (today's cards), and journals the path", async () => {
    const authenticator = await countingAuthenticator();
    const c = card('valid', false);
    const pin = pinAnswers(DEMO_PIN);
    const result = await runCheck(
      context({ mode: 'auto', authenticator, fallback: 'pin', askPin: pin.askPin }),
      new InProcessTransport(c),
    );
    expect(result.decision).toMatchObject({ outcome: 'admitted', reasons: ['ok'], authPath: 'pin' });
    expect(pin.asked).toEqual([{ triesLeft: 3, retry: false }]);
    const { decision } = ledger.commit(result, false);
    expect(data.journal.get(decision.journalSeq!)).toMatchObject({ outcome: 'admitted', authPath: 'pin' });
  });

  it('uses the PIN when the institution key is not ready, and refuses when the holder walks away', async () => {
    const pin = pinAnswers(null);
    const { decision } = await runCheck(
      context({ mode: 'auto', authenticator: null, fallback: 'pin', askPin: pin.askPin }),
      new InProcessTransport(card('valid')),
    );
    expect(decision).toMatchObject({ outcome: 'refused', reasons: ['pin_required'] });
    expect(pin.asked).toHaveLength(1);
  });

  it('a blocked PIN is refused without asking', async () => {
    const pin = pinAnswers(DEMO_PIN);
    const { decision } = await runCheck(
      context({ mode: 'auto', authenticator: null, fallback: 'pin', askPin: pin.askPin }),
      new InProcessTransport(card('pin-blocked', false)),
    );
    expect(decision).toMatchObject({ outcome: 'refused', reasons: ['pin_blocked'] });
    expect(pin.asked).toEqual([]);
  });

  it('a site with a staff visual check: no PIN, no signature, a distinct staff outcome', async () => {
    const authenticator = await countingAuthenticator();
    const c = card('valid', false);
    const pin = pinAnswers(DEMO_PIN);
    const { decision } = await runCheck(
      context({ mode: 'auto', authenticator, fallback: 'staff-visual', askPin: pin.askPin }),
      new InProcessTransport(c),
    );
    expect(decision).toMatchObject({
      outcome: 'staff',
      reasons: ['ok', 'staff_visual_check'],
      authPath: 'staff-visual',
    });
    expect(pin.asked).toEqual([]);
    expect(ins(c.sent, 0x80, 0x2a)).toBe(0);
  });

  it('past the unlock rate, auto asks for the PIN and terminal mode refuses', async () => {
    const limited = await countingAuthenticator({ perMinute: 1, burst: 1 });
    const pin = pinAnswers(DEMO_PIN);
    const auto: CardAuthentication = {
      mode: 'auto',
      authenticator: limited,
      fallback: 'pin',
      askPin: pin.askPin,
    };
    expect((await runCheck(context(auto), new InProcessTransport(card('valid')))).decision.authPath).toBe(
      'pinless',
    );
    const second = await runCheck(context(auto), new InProcessTransport(card('valid')));
    expect(second.decision).toMatchObject({ outcome: 'admitted', authPath: 'pin' });
    const terminal = await runCheck(
      context({ mode: 'terminal', authenticator: limited }),
      new InProcessTransport(card('valid')),
    );
    expect(terminal.decision).toMatchObject({ outcome: 'refused', reasons: ['card_auth_failed'] });
  });
});
