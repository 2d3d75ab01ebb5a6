// The demo card wallet: puts one virtual My Number Card at a time into the demo reader through the real
// PC/SC stack (pcscd + vpcd), so the kiosk sees exactly what it would see with a plastic card. The
// cards behave like a current contactless chip (timing model 'contactless-424').
import type { KioskConfig } from '../../config/load.js';
import type { DemoCard } from '../api/contract.js';
import type { ReasonCode, SiteKind } from '../../base/decision.js';
import { KioskError } from '../../base/errors.js';
import { demoTrustedInstitutionCa } from './hsm.js';
import { SimulatedCard } from '../../sim/card/simulated-card.js';
import { enableTerminalAuth } from '../../sim/card/terminal-auth.js';
import { timingModel } from '../../sim/card/timing.js';
import { VpcdCardClient, type VpcdEndpoint } from '../../sim/card/vpcd-client.js';
import { DEMO_PIN, type DemoCardSet } from '../../sim/pki/demo-pki.js';
import type { Decision } from '../../base/decision.js';
import type { DemoWallet, Terminal } from '../core/terminal/index.js';

/** What each demo card shows best, and the reason the demo expects there. */
export const DEMO_CARD_SHOWCASE: Readonly<Record<string, { siteKind: SiteKind | null; expect: ReasonCode }>> =
  {
    valid: { siteKind: 'stadium-gate', expect: 'ok' },
    revoked: { siteKind: null, expect: 'revoked' },
    expired: { siteKind: null, expect: 'cert_expired' },
    unregistered: { siteKind: 'stadium-gate', expect: 'not_registered' },
    'wrong-gate': { siteKind: 'stadium-gate', expect: 'wrong_gate' },
    'already-inside': { siteKind: 'stadium-gate', expect: 'already_inside' },
    insured: { siteKind: 'hospital-reception', expect: 'ok' },
    'insurance-expired': { siteKind: 'hospital-reception', expect: 'entitlement_expired' },
    'shelter-resident': { siteKind: 'shelter', expect: 'ok' },
    'kiosk-member': { siteKind: 'convenience-kiosk', expect: 'ok' },
    clone: { siteKind: null, expect: 'card_auth_failed' },
    untrusted: { siteKind: null, expect: 'cert_untrusted' },
    tampered: { siteKind: null, expect: 'cert_tampered' },
    'pin-blocked': { siteKind: null, expect: 'pin_blocked' },
    'visitor-vi': { siteKind: 'stadium-gate', expect: 'ok' },
  };

export interface WalletOptions {
  config: KioskConfig;
  cards: DemoCardSet;
  endpoint: VpcdEndpoint;
  /** 'contactless-424' by default: the demo should feel like a real card. Tests may pass 'instant'. */
  timing?: 'instant' | 'contactless-424' | 'contactless-106' | 'contact';
}

export class VpcdDemoWallet implements DemoWallet {
  private current: { name: string; client: VpcdCardClient } | null = null;

  constructor(private readonly options: WalletOptions) {}

  list(): DemoCard[] {
    return this.options.cards.cards.map((card) => {
      let showcase = DEMO_CARD_SHOWCASE[card.name] ?? { siteKind: null, expect: 'ok' as const };
      // PIN-less authentication never asks for the PIN, so a blocked PIN does not matter there.
      if (card.name === 'pin-blocked' && this.options.config.card.authMode !== 'pin')
        showcase = { siteKind: 'stadium-gate', expect: 'ok' };
      return {
        name: card.name,
        siteKind: showcase.siteKind,
        expect: showcase.expect,
        pin: DEMO_PIN,
        inserted: this.current?.name === card.name,
      };
    });
  }

  /** `pinless: false`: the card answers no PIN-less terminal authentication, as today's real cards. */
  async insert(name: string, options: { pinless?: boolean } = {}): Promise<void> {
    const card = this.options.cards.cards.find((c) => c.name === name);
    if (!card) throw new KioskError('INVALID_REQUEST', `no demo card named ${name}`);
    await this.remove();
    const simulated = SimulatedCard.fromFile(card.profilePath, {
      timing: timingModel(this.options.timing ?? 'contactless-424'),
    });
    if (options.pinless !== false)
      enableTerminalAuth(simulated.applet, { trusted: [demoTrustedInstitutionCa(this.options.config)] });
    const client = new VpcdCardClient({ endpoint: this.options.endpoint, card: simulated, reconnect: false });
    this.current = { name, client };
    try {
      await client.insert(5000);
    } catch (error) {
      this.current = null;
      throw new KioskError(
        'READER_NOT_FOUND',
        `the demo reader does not accept the card: ${(error as Error).message}`,
      );
    }
  }

  async remove(): Promise<void> {
    const current = this.current;
    this.current = null;
    if (current) await current.client.remove();
  }

  async close(): Promise<void> {
    await this.remove();
  }
}

/**
 * One tap as a person does it: the card arrives, the terminal decides, the card leaves. Waits until the
 * reader has seen the card go (pcscd notices a vpcd removal on its next presence poll), so that the
 * next tap is a new card. For terminals that do not decide by themselves (`autoCheck: false`).
 */
export async function tapDemoCard(
  terminal: Terminal,
  wallet: DemoWallet,
  card: string,
  timeoutMs = 10_000,
): Promise<Decision> {
  await wallet.insert(card);
  try {
    return await terminal.checkCard(await terminal.waitForCard(timeoutMs));
  } finally {
    await wallet.remove();
    const until = Date.now() + 3000;
    while (Date.now() < until && ['card_present', 'busy'].includes(terminal.status().reader.state)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
