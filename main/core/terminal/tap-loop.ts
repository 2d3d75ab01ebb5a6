// One tap: a card arrives → the check pipeline decides → the entry ledger commits it → the effects
// follow (the decision event, the site's after-commit step, the gate and signal, the journal seal, an
// early push so other gates learn of the entry). One card at a time.
import type { Clock } from '../../../base/clock.js';
import type { Decision } from '../../../base/decision.js';
import { KioskError, toKioskError } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import type { KioskEvent } from '../../api/contract.js';
import { runCheck, type CardAuthentication, type CheckContext, type CheckResult } from '../check/pipeline.js';
import { buildTime } from '../clock.js';
import { runTicketCheck, runTicketLookup } from '../check/ticket-check.js';
import { siteModules, type SitePorts } from '../sites/index.js';
import type { DeviceSet } from './devices.js';
import type { EntryLedger } from './entry-ledger.js';
import type { PinPad } from './pin-pad.js';
import type { TerminalSite } from './status-view.js';

const log = getLogger('tap');
const JOURNAL_SEAL_EVERY = 100;
const CARD_POLL_MS = 50;

export interface TapLoopOptions {
  clock: Clock;
  devices: DeviceSet;
  ledger: EntryLedger;
  pinPad: PinPad;
  sitePorts: SitePorts;
  site: () => TerminalSite;
  emit: (event: KioskEvent) => void;
  changed: () => void;
  /** Decide on every card that arrives (the kiosk). The one-shot CLI turns it off and asks itself. */
  autoCheck: boolean;
}

export class TapLoop {
  readonly counters = { admitted: 0, refused: 0 };
  private busyNow = false;
  private closed = false;

  constructor(private readonly options: TapLoopOptions) {}

  get busy(): boolean {
    return this.busyNow;
  }

  /** A card arrived in `reader`: decide on it, unless busy, closed, out of service or not our reader. */
  async onCard(reader: string): Promise<void> {
    const { devices } = this.options;
    if (this.busyNow || this.closed || !this.options.autoCheck) return;
    if (devices.config.card.reader && !reader.includes(devices.config.card.reader)) return;
    if (devices.outOfService()) return;
    this.busyNow = true;
    this.options.changed();
    try {
      await this.checkCard(reader);
    } catch (error) {
      const typed = toKioskError(error);
      log.warn({ code: typed.code, err: typed.message }, 'tap failed before a decision');
      this.options.changed();
    } finally {
      this.busyNow = false;
      this.options.changed();
    }
  }

  /**
   * A scanned QR ticket: decided and committed like a card, one person at a time. A scan while a card
   * is being read, or while out of service, is dropped (the scanner's beep is not an admission).
   */
  async onScan(text: string): Promise<Decision | null> {
    const { devices, clock } = this.options;
    if (this.busyNow || this.closed || devices.outOfService()) return null;
    this.busyNow = true;
    this.options.changed();
    try {
      const data = devices.stores();
      data.refresh();
      const result = runTicketCheck(
        {
          config: devices.config,
          site: this.options.site(),
          data,
          buildTime: buildTime(),
          lastHub: () => devices.lastHub,
          recentAdmits: this.options.ledger.recentAdmits,
          now: () => new Date(clock.now()),
        },
        text,
      );
      return this.finish(result);
    } catch (error) {
      const typed = toKioskError(error);
      log.warn({ code: typed.code, err: typed.message }, 'scan failed before a decision');
      return null;
    } finally {
      this.busyNow = false;
      this.options.changed();
    }
  }

  /**
   * Staff looked a holder up by ticket number: decided with the same rules and committed like a tap.
   * Refused (NOT_AVAILABLE) while a card or scan is being decided, so that two decisions never interleave.
   */
  lookupTicket(ticketNumber: string): Decision {
    const { devices, clock } = this.options;
    if (this.busyNow) throw new KioskError('NOT_AVAILABLE', 'a card or ticket is being checked; try again');
    const data = devices.stores();
    data.refresh();
    const result = runTicketLookup(
      {
        config: devices.config,
        site: this.options.site(),
        data,
        buildTime: buildTime(),
        lastHub: () => devices.lastHub,
        recentAdmits: this.options.ledger.recentAdmits,
        now: () => new Date(clock.now()),
      },
      ticketNumber,
    );
    return this.finish(result);
  }

  /** Runs the pipeline for a card in `reader` and returns the committed decision (CLI and UI alike). */
  async checkCard(reader: string): Promise<Decision> {
    const { devices } = this.options;
    const data = devices.stores();
    // An import or swap by another process since the last card; the card I/O that follows dwarfs it.
    data.refresh();
    const auth = this.cardAuthentication();
    this.options.emit({ name: 'reading', payload: { phase: 'card_detected', progress: 0 } });
    const transport = await devices.watcher.connect(reader, devices.config.card.commandTimeoutMs);
    const result = await runCheck(this.checkContext(auth, reader), transport);
    return this.finish(result);
  }

  close(): void {
    this.closed = true;
  }

  private cardAuthentication(): CardAuthentication {
    const { devices, pinPad } = this.options;
    const { authMode, fallback } = devices.config.card;
    if (authMode === 'pin') return { mode: 'pin', askPin: (r) => pinPad.ask(r) };
    if (authMode === 'auto')
      return {
        mode: 'auto',
        authenticator: devices.readyAuthenticator(),
        fallback,
        askPin: (r) => pinPad.ask(r),
      };
    return { mode: 'terminal', authenticator: devices.requireAuthenticator() };
  }

  /** Waits briefly for the watcher to tell whether the card in `reader` is still there. */
  private async cardStillPresent(reader: string, waitMs = 1000): Promise<boolean> {
    const { watcher } = this.options.devices;
    // Counted in polls, not in clock time: this waits on hardware, whatever the terminal's clock says.
    for (let polls = Math.ceil(waitMs / CARD_POLL_MS); ; polls--) {
      const present = watcher.list().find((r) => r.name === reader)?.cardPresent ?? false;
      if (!present || polls <= 0) return present;
      await new Promise((resolve) => this.options.clock.setTimeout(() => resolve(undefined), CARD_POLL_MS));
    }
  }

  private checkContext(auth: CardAuthentication, reader: string): CheckContext {
    const { devices, clock } = this.options;
    return {
      config: devices.config,
      site: this.options.site(),
      anchors: devices.anchors,
      data: devices.stores(),
      auth,
      buildTime: buildTime(),
      lastHub: () => devices.lastHub,
      recentAdmits: this.options.ledger.recentAdmits,
      now: () => new Date(clock.now()),
      onPhase: (phase, progress) => this.options.emit({ name: 'reading', payload: { phase, progress } }),
      cardStillPresent: () => this.cardStillPresent(reader),
    };
  }

  private finish(result: CheckResult): Decision {
    const { devices, ledger } = this.options;
    const site = this.options.site();
    const gateReportsPassage = Boolean(devices.actuators?.gate) && siteModules[site.kind].passageAtGate;
    const committed = ledger.commit(result, gateReportsPassage);
    const decision = committed.decision;
    if (decision.outcome === 'admitted') this.counters.admitted++;
    else if (decision.outcome === 'refused') this.counters.refused++;
    // The screens show the decision first; a session the site opens follows it.
    this.options.emit({ name: 'decision', payload: decision });
    try {
      siteModules[site.kind].afterCommit(decision, result, this.options.sitePorts);
    } catch (error) {
      // The entry is journaled; a failed roster or session step must not turn it into a fault.
      log.error({ err: (error as Error).message, site: site.kind }, 'after-commit step failed');
    }
    const actuators = devices.actuators;
    if (actuators) {
      void actuators
        .actuate(decision, String(decision.journalSeq))
        .then((outcome) => {
          if (outcome) ledger.gateOutcome(outcome);
          this.options.changed();
        })
        .catch((error: unknown) => log.error({ err: (error as Error).message }, 'actuation failed'));
    }
    void this.sealJournal();
    // Other gates learn of an entry through the hub: send it now rather than at the next push timer.
    if (committed.movesPresence) devices.sync?.pushSoon();
    this.options.changed();
    return decision;
  }

  private async sealJournal(): Promise<void> {
    const { devices } = this.options;
    const sealer = devices.journalSealer();
    if (!sealer || !devices.data) return;
    try {
      await devices.data.journal.sealIfDue(sealer, JOURNAL_SEAL_EVERY);
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'journal seal failed; retried after the next decision');
    }
  }
}
