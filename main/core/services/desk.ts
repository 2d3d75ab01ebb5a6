// The service desk: a patron in an open kiosk session asks for a service; the desk gets the holder's proof
// from the card that opened the session, asks the provider, prints the document, and hands the fee to the
// store's register. Session isolation is this file's first rule:
//   - a request belongs to exactly one session; before and after every wait (card, PIN, provider, printer)
//     the desk checks that this session is still the open one, and drops what it holds otherwise;
//   - the card in the reader must be the card that opened the session (its serial reference);
//   - a document is printed only while its session is open, tagged with that session; when the session
//     closes its queued job is cancelled and purged, and a late answer is discarded unseen;
//   - events carry the session id; the screen shows only those of its own session;
//   - the journal gets ids, codes and amounts, never a name or a document.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../base/clock.js';
import { KioskError, isKioskError, toKioskError } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import type { KioskConfig } from '../../../config/load.js';
import type { ServiceJournalEvents } from '../../../protocol/journal-record.js';
import {
  serviceRequestDigest,
  type ServiceRefusal,
  type ServiceRequestFields,
} from '../../../protocol/service-request.js';
import type { ServiceEvent, ServiceView } from '../../api/contract.js';
import { JpkiClient } from '../card/jpki-client.js';
import type { CardTransport } from '../card/transport.js';
import type { Printer } from '../printing/index.js';
import type { OpenSession, PatronSession } from '../terminal/patron-session.js';
import type { PosHandoff } from './pos-handoff.js';
import type { ProviderClient } from './provider-client.js';

const log = getLogger('services');

export type KioskService = KioskConfig['policy']['kiosk']['services'][number];

/** What the card in the reader is, as the terminal's trust anchors and stores say. */
export type CardIdentity = { ok: true; serialRef: string } | { ok: false; refusal: ServiceRefusal };

export interface ServiceDeskOptions {
  terminalId: string;
  siteId: string;
  services: readonly KioskService[];
  providers: ReadonlyMap<string, ProviderClient>;
  printer: Printer | null;
  clock: Clock;
  session: PatronSession;
  /** Asks the holder for the card PIN (the terminal's PIN pad); null when they cancel or walk away. */
  askPin(request: { triesLeft: number; retry: boolean }): Promise<string | null>;
  /** Closes an open PIN request (the session ended under it). */
  cancelPin(): void;
  /** A connection to the card in the session's reader. */
  connectCard(): Promise<CardTransport>;
  commandTimeoutMs: number;
  /** Verifies the card's certificate (anchors, validity) and finds its serial reference and revocation. */
  identify(certificateDer: Uint8Array): Promise<CardIdentity>;
  /** A PIN-less unlock (terminal authentication) bound to this card's certificate and the one digest it signs next. */
  unlockWithoutPin(client: JpkiClient, bound: { certificate: Uint8Array; digest: Uint8Array }): Promise<void>;
  journal(entry: {
    decisionId: string;
    serialRef: string | null;
    service: {
      event: (typeof ServiceJournalEvents)[number];
      serviceId: string;
      sessionId: string;
      requestId: string;
      code?: string;
      amountYen?: number;
      printJob?: string;
      documentId?: string;
    };
    note?: string;
  }): void;
  pos: PosHandoff | null;
  emit(event: ServiceEvent): void;
}

interface Active {
  session: OpenSession;
  service: KioskService;
  requestId: string;
  /** The card connection while the proof is being made: closed when the session ends under it. */
  card: CardTransport | null;
}

export class ServiceDesk {
  private active: Active | null = null;

  constructor(private readonly options: ServiceDeskOptions) {
    options.session.onClose((session) => this.sessionClosed(session));
  }

  /** The menu: every configured service with whether it can be used now, and why not. */
  menu(): ServiceView[] {
    return this.options.services.map((s) => {
      const reason = this.unavailable(s);
      return {
        id: s.id,
        names: { ja: s.names.ja, en: s.names.en },
        pinRequired: s.pinRequired,
        feeYen: s.feeYen,
        available: reason === null,
        unavailableReason: reason,
      };
    });
  }

  get busy(): boolean {
    return this.active !== null;
  }

  private unavailable(s: KioskService): 'offline' | 'printer' | null {
    if (s.network && !this.options.providers.get(s.provider)?.reachable) return 'offline';
    if (s.prints !== 'none' && !this.options.printer?.ready) return 'printer';
    return null;
  }

  /** Starts a request in the open session; progress and the end come as events. */
  request(sessionId: string, serviceId: string): { requestId: string } {
    const session = this.options.session.active;
    if (!session || session.sessionId !== sessionId)
      throw new KioskError('SESSION_ENDED', 'this session is not open');
    const service = this.options.services.find((s) => s.id === serviceId);
    if (!service) throw new KioskError('INVALID_REQUEST', `no service ${serviceId}`);
    if (this.active) throw new KioskError('INVALID_REQUEST', 'a request is already running in this session');
    const reason = this.unavailable(service);
    if (reason)
      throw new KioskError(
        'SERVICE_UNAVAILABLE',
        reason === 'offline' ? 'the provider cannot be reached' : 'the printer is not available',
        { reason },
      );
    const requestId = randomUUID();
    const active: Active = { session, service, requestId, card: null };
    this.active = active;
    void this.run(active).finally(() => {
      if (this.active === active) this.active = null;
    });
    return { requestId };
  }

  private current(a: Active): boolean {
    return this.active === a && this.options.session.isCurrent(a.session.sessionId);
  }

  private emit(a: Active, event: Omit<ServiceEvent, 'sessionId' | 'requestId' | 'serviceId'>): void {
    // Only to the session that asked, while it is open: a late step of an ended session shows nothing.
    if (!this.current(a)) return;
    this.options.emit({
      sessionId: a.session.sessionId,
      requestId: a.requestId,
      serviceId: a.service.id,
      ...event,
    });
  }

  private journal(
    a: Active,
    event: (typeof ServiceJournalEvents)[number],
    extra: { code?: string; amountYen?: number; printJob?: string; documentId?: string; note?: string } = {},
  ): void {
    const { note, ...fields } = extra;
    try {
      this.options.journal({
        decisionId: a.session.decisionId,
        serialRef: a.session.serialRef,
        service: {
          event,
          serviceId: a.service.id,
          sessionId: a.session.sessionId,
          requestId: a.requestId,
          ...fields,
        },
        ...(note ? { note } : {}),
      });
    } catch (error) {
      log.error({ err: toKioskError(error).message }, 'could not journal a service step');
    }
  }

  private fail(a: Active, error: KioskError, extra: Partial<ServiceEvent> = {}): void {
    const refusal = extra.refusal;
    this.journal(a, refusal ? 'refused' : 'failed', { code: refusal ?? error.code });
    this.emit(a, { state: 'failed', error: error.toPayload(), ...extra });
  }

  private async run(a: Active): Promise<void> {
    const { service } = a;
    this.journal(a, 'request');
    this.emit(a, { state: 'working', step: 'card' });
    const fields: ServiceRequestFields = {
      requestId: a.requestId,
      serviceId: service.id,
      sessionId: a.session.sessionId,
      terminalId: this.options.terminalId,
      at: new Date(this.options.clock.now()).toISOString(),
      pinVerified: service.pinRequired,
    };
    let proof: { certificate: string; signature: string };
    try {
      proof = await this.cardProof(a, fields);
    } catch (error) {
      const typed = toKioskError(error);
      if (typed.code === 'SESSION_ENDED' || !this.current(a)) {
        this.journal(a, 'discarded', { code: 'SESSION_ENDED' });
        return;
      }
      if (typed.detail?.cancelled === true) {
        this.journal(a, 'failed', { code: 'PIN_CANCELLED' });
        this.emit(a, { state: 'cancelled' });
        return;
      }
      const refusal = typed.detail?.refusal as ServiceRefusal | undefined;
      this.fail(a, typed, refusal ? { refusal } : {});
      // Another card than the one that opened the session: the session is not this person's any more.
      if (typed.code === 'CARD_MISMATCH') this.options.session.close('card_removed');
      return;
    }
    if (!this.current(a)) {
      this.journal(a, 'discarded', { code: 'SESSION_ENDED' });
      return;
    }
    this.emit(a, { state: 'working', step: 'provider' });
    const provider = this.options.providers.get(service.provider);
    if (!provider) {
      this.fail(a, new KioskError('SERVICE_UNAVAILABLE', `no provider ${service.provider}`));
      return;
    }
    let answer: Awaited<ReturnType<ProviderClient['request']>>;
    try {
      answer = await provider.request({ request: fields, proof }, () => this.current(a));
    } catch (error) {
      const typed = toKioskError(error, 'SERVICE_TIMEOUT');
      if (typed.code === 'SESSION_ENDED' || !this.current(a)) {
        this.journal(a, 'discarded', { code: 'SESSION_ENDED' });
        return;
      }
      this.fail(a, typed);
      return;
    }
    if (answer.kind === 'refused') {
      this.fail(a, new KioskError('SERVICE_REFUSED', `refused: ${answer.refusal}`), {
        refusal: answer.refusal,
      });
      return;
    }
    const pdf = answer.pdf;
    try {
      if (!this.current(a)) {
        // The holder left before the answer came: the document is dropped unseen and unprinted.
        this.journal(a, 'discarded', {
          code: 'SESSION_ENDED',
          ...(answer.documentId ? { documentId: answer.documentId } : {}),
        });
        return;
      }
      this.journal(a, 'document', answer.documentId ? { documentId: answer.documentId } : {});
      if (service.prints !== 'none') {
        const printed = await this.print(a, pdf);
        if (!printed) return;
      }
      let feeYen = 0;
      if (service.feeYen > 0) feeYen = this.handFee(a);
      this.emit(a, { state: 'done', printed: service.prints !== 'none', feeYen });
    } finally {
      pdf.fill(0);
    }
  }

  private async print(a: Active, pdf: Buffer): Promise<boolean> {
    const printer = this.options.printer;
    if (!printer) {
      this.fail(a, new KioskError('PRINTER_UNAVAILABLE', 'no printer is configured'), { staffNote: true });
      return false;
    }
    this.emit(a, { state: 'working', step: 'printing' });
    const outcome = await printer.print(
      {
        document: pdf,
        title: `kiosk:${a.session.sessionId}:${a.requestId}`,
        sessionId: a.session.sessionId,
        media: 'A4',
      },
      () => this.current(a),
    );
    if (outcome.ok) {
      this.journal(a, 'printed', { printJob: outcome.jobId });
      return true;
    }
    if (outcome.error.code === 'SESSION_ENDED') {
      this.journal(a, 'discarded', {
        code: 'SESSION_ENDED',
        ...(outcome.jobId ? { printJob: outcome.jobId } : {}),
      });
      return false;
    }
    this.journal(a, 'print-failed', {
      code: outcome.paperOut ? 'PRINTER_OUT_OF_PAPER' : outcome.error.code,
      ...(outcome.jobId ? { printJob: outcome.jobId } : {}),
      note: 'not printed and not charged: staff re-issue or refund at the register',
    });
    this.emit(a, {
      state: 'failed',
      error: new KioskError('PRINT_FAILED', outcome.error.message).toPayload(),
      staffNote: true,
      paperOut: outcome.paperOut,
    });
    return false;
  }

  private handFee(a: Active): number {
    const amountYen = a.service.feeYen;
    this.journal(a, 'fee-handoff', { amountYen });
    try {
      this.options.pos?.write({
        format: 'jpki-kiosk/pos-handoff/v1',
        requestId: a.requestId,
        sessionId: a.session.sessionId,
        serviceId: a.service.id,
        amountYen,
        terminalId: this.options.terminalId,
        siteId: this.options.siteId,
        at: new Date(this.options.clock.now()).toISOString(),
      });
    } catch (error) {
      log.error({ err: toKioskError(error).message }, 'could not write the POS hand-off record');
    }
    return amountYen;
  }

  /** The card that opened the session signs the request's digest (after its PIN when the service asks). */
  private async cardProof(
    a: Active,
    fields: ServiceRequestFields,
  ): Promise<{ certificate: string; signature: string }> {
    const transport = await this.options.connectCard();
    a.card = transport;
    const client = new JpkiClient(transport, { timeoutMs: this.options.commandTimeoutMs });
    try {
      await client.selectApplet();
      const der = await client.readAuthCertificate();
      const identity = await this.options.identify(der);
      if (!identity.ok)
        throw new KioskError('SERVICE_REFUSED', `card refused: ${identity.refusal}`, {
          refusal: identity.refusal,
        });
      if (a.session.serialRef === null || identity.serialRef !== a.session.serialRef)
        throw new KioskError('CARD_MISMATCH', 'the card in the reader did not open this session');
      if (!this.current(a)) throw new KioskError('SESSION_ENDED', 'session ended');
      const digest = serviceRequestDigest(fields);
      if (a.service.pinRequired) await this.verifyPin(a, client);
      else await this.options.unlockWithoutPin(client, { certificate: der, digest });
      if (!this.current(a)) throw new KioskError('SESSION_ENDED', 'session ended');
      const signature = await client.signSha256(digest);
      return {
        certificate: Buffer.from(der).toString('base64'),
        signature: Buffer.from(signature).toString('base64'),
      };
    } finally {
      a.card = null;
      await client.close().catch(() => undefined);
    }
  }

  private async verifyPin(a: Active, client: JpkiClient): Promise<void> {
    let retry = false;
    for (;;) {
      const triesLeft = await client.authPinTriesLeft();
      if (triesLeft === 0) throw new KioskError('PIN_BLOCKED', 'the PIN is blocked');
      const pin = await this.options.askPin({ triesLeft, retry });
      if (!this.current(a)) throw new KioskError('SESSION_ENDED', 'session ended');
      if (pin === null)
        throw new KioskError(retry ? 'PIN_WRONG' : 'INVALID_REQUEST', 'the PIN was not given', {
          cancelled: true,
        });
      try {
        await client.verifyAuthPin(pin);
        return;
      } catch (error) {
        if (isKioskError(error, 'PIN_WRONG')) {
          retry = true;
          continue;
        }
        throw error;
      }
    }
  }

  private sessionClosed(session: OpenSession): void {
    const a = this.active;
    if (a && a.session.sessionId === session.sessionId) {
      this.active = null;
      // A PIN request of this session must not stay on screen for the next person, and its card commands
      // stop here: the next person's card is not this run's to talk to.
      this.options.cancelPin();
      void a.card?.close().catch(() => undefined);
    }
    void this.options.printer?.forgetSession(session.sessionId);
  }
}
