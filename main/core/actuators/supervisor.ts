// One supervised HID device: find it (vendor/product id, serial, path), open it, let the driver attach,
// watch it, and on any fault close it and retry. The state machine, the backoff (full jitter) and the
// presence poll are base/supervisor.ts's; this file says how a device is found, opened and checked.
// A missing device is a state with a status object and 'status' events, never an exception escaping
// to the caller's event loop.
//
//   stopped ──start()──► searching ──found+attached──► connected
//      ▲                    │  ▲                           │ unplugged (presence poll, transport error)
//      │                    ▼  │ backoff timer             ▼ or an operation failed
//      └──stop()────── missing / failed ◄──────────────────┘
//
// The device states map the supervisor's: starting → searching, ready/running → connected, retrying →
// missing (nothing matched, or it was unplugged) or failed (a candidate or an operation failed),
// failed → failed.
import { EventEmitter } from 'node:events';
import type { Clock } from '../../../base/clock.js';
import { systemClock } from '../../../base/clock.js';
import { KioskError, toKioskError, type ErrorPayload } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import { Supervisor, type Health, type Supervised } from '../../../base/supervisor.js';
import {
  matchesDevice,
  type DeviceMatch,
  type HidBackend,
  type HidDeviceInfo,
  type HidHandle,
} from './hid-backend.js';

export const DeviceStates = ['stopped', 'searching', 'connected', 'missing', 'failed'] as const;
export type DeviceState = (typeof DeviceStates)[number];

export interface DeviceStatus {
  role: string;
  driver: string;
  state: DeviceState;
  /** ISO time of the last state change. */
  since: string;
  device: { path: string; product: string | null } | null;
  lastError: ErrorPayload | null;
  /** Consecutive attempts that did not end connected. */
  attempts: number;
  /** Milliseconds until the next attempt, when one is scheduled. */
  retryInMs: number | null;
}

export interface SupervisorOptions {
  retryMinMs?: number;
  retryMaxMs?: number;
  /** While connected, enumerate this often to notice an unplugged device that has no input reports. */
  presencePollMs?: number;
  /** An operation (open, report, attach) that takes longer counts as a device fault. */
  operationTimeoutMs?: number;
  /** The backoff's jitter source (seeded in tests). */
  random?: () => number;
  clock?: Clock;
}

/** What a driver does with a freshly opened device: identify it (throw to reject it) and make it safe. */
export interface DeviceProfile<S> {
  driver: string;
  /** Whether DeviceMatch.serial is compared with the USB serial string before opening. */
  usbSerialMatch: boolean;
  attach(handle: HidHandle, info: HidDeviceInfo, match: DeviceMatch): Promise<S>;
}

interface Connection<S> {
  handle: HidHandle;
  info: HidDeviceInfo;
  session: S;
  unsubscribe: () => void;
}

export class SupervisedDevice<S>
  extends EventEmitter<{
    status: [DeviceStatus];
    connected: [S];
    input: [Uint8Array];
  }>
  implements Supervised
{
  private readonly log;
  private readonly operationTimeoutMs: number;
  private readonly clock: Clock;
  private readonly supervisor: Supervisor;
  private connection: Connection<S> | null = null;
  /** How a retry shows: nothing matched or it was unplugged (missing), or something went wrong (failed). */
  private faultKind: 'missing' | 'failed' = 'missing';
  /** The device state last reported through 'status'. */
  private reported: DeviceState = 'stopped';
  private since: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly role: string,
    private readonly backend: HidBackend,
    private readonly match: DeviceMatch,
    private readonly profile: DeviceProfile<S>,
    options: SupervisorOptions = {},
  ) {
    super();
    this.log = getLogger(`hid:${role}`);
    this.operationTimeoutMs = options.operationTimeoutMs ?? 2000;
    this.clock = options.clock ?? systemClock;
    this.since = new Date(this.clock.now()).toISOString();
    this.supervisor = new Supervisor({
      name: role,
      errorCode: 'HID_UNAVAILABLE',
      clock: this.clock,
      backoff: {
        baseMs: options.retryMinMs ?? 250,
        capMs: options.retryMaxMs ?? 5000,
        ...(options.random ? { random: options.random } : {}),
      },
      // While connected, enumerate to notice an unplugged device that has no input reports.
      poll: { everyMs: options.presencePollMs ?? 1000, check: () => this.checkPresence() },
      open: () => this.connect(),
      close: () => this.drop(),
    });
    this.supervisor.on('state', (health) => this.onHealth(health));
  }

  get status(): DeviceStatus {
    const health = this.supervisor.health();
    const info = this.connection?.info;
    return {
      role: this.role,
      driver: this.profile.driver,
      state: this.deviceState(health),
      since: this.since,
      device: info && this.connected ? { path: info.path, product: info.product ?? null } : null,
      lastError: health.error,
      attempts: health.failures,
      retryInMs: health.retryAt === null ? null : Math.max(0, health.retryAt - this.clock.now()),
    };
  }

  health(): Health {
    return this.supervisor.health();
  }

  get connected(): boolean {
    const state = this.supervisor.state;
    return this.connection !== null && (state === 'ready' || state === 'running');
  }

  get session(): S | null {
    return this.connected ? this.connection!.session : null;
  }

  start(): void {
    if (this.supervisor.state !== 'stopped') return;
    void this.supervisor.start();
  }

  async stop(): Promise<void> {
    await this.supervisor.stop();
    // A connection adopted by an attempt still under way is closed by the supervisor when it ends.
    await this.drop();
  }

  /**
   * Runs one operation on the device, serialised with the others. Throws HID_UNAVAILABLE when the device
   * is not connected; a failing operation drops the connection, schedules a reconnect and throws HID_FAILED.
   */
  run<T>(operation: (handle: HidHandle, session: S) => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      const connection = this.connected ? this.connection : null;
      if (!connection) {
        throw new KioskError('HID_UNAVAILABLE', `${this.role} device is ${this.status.state}`, {
          role: this.role,
        });
      }
      const done = this.supervisor.beginWork();
      try {
        return await this.withTimeout(operation(connection.handle, connection.session), 'an operation');
      } catch (error) {
        // A refused request (bad channel, …) says nothing about the device: it stays connected.
        const deviceFault =
          !(error instanceof KioskError) || error.code === 'HID_FAILED' || error.code === 'HID_UNAVAILABLE';
        const typed =
          error instanceof KioskError
            ? error
            : new KioskError('HID_FAILED', `${this.role}: ${String(error)}`);
        if (deviceFault && this.connection === connection) await this.fault(typed, 'failed');
        throw typed;
      } finally {
        done();
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Forces an attempt now (staff "retry" button, or a test after replugging). */
  retryNow(): void {
    this.supervisor.retryNow();
  }

  /** A device that is missing stays missing while it is looked for again (only the first search is 'searching'). */
  private deviceState(health: Pick<Health, 'state' | 'failures'>): DeviceState {
    switch (health.state) {
      case 'stopped':
        return 'stopped';
      case 'starting':
        return health.failures > 0 ? this.faultKind : 'searching';
      case 'ready':
      case 'running':
        return 'connected';
      case 'retrying':
        return this.faultKind;
      case 'failed':
        return 'failed';
    }
  }

  private onHealth(health: Health): void {
    const previous = this.reported;
    const state = this.deviceState(health);
    this.reported = state;
    // Starting and ending an operation, or starting another search for a missing device, is not news.
    if (state === previous && health.state !== 'retrying' && health.state !== 'failed') return;
    if (state !== previous) this.since = new Date(this.clock.now()).toISOString();
    this.emit('status', this.status);
    if (health.state === 'ready' && this.connection) this.emit('connected', this.connection.session);
  }

  private async withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new KioskError('HID_FAILED', `${this.role}: ${what} took over ${this.operationTimeoutMs} ms`),
          ),
        this.operationTimeoutMs,
      );
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The supervisor's poll: throws when the connected device left the bus. */
  private async checkPresence(): Promise<void> {
    const connection = this.connection;
    if (!connection) return;
    let present = true;
    try {
      const devices = await this.backend.enumerate();
      present = devices.some((d) => d.path === connection.info.path);
    } catch (error) {
      this.log.warn({ err: toKioskError(error).toPayload() }, 'enumeration failed while connected');
    }
    if (present || this.connection !== connection) return;
    this.log.warn({ path: connection.info.path }, 'device lost');
    this.faultKind = 'missing';
    throw new KioskError('HID_UNAVAILABLE', `${this.role} device was unplugged`);
  }

  /** One attempt (the supervisor's `open`): the first candidate that opens and attaches is adopted. */
  private async connect(): Promise<void> {
    let lastError: KioskError | null = null;
    try {
      const all = await this.backend.enumerate();
      const candidates = all.filter((d) => matchesDevice(d, this.match, this.profile.usbSerialMatch));
      for (const info of candidates) {
        let handle: HidHandle | null = null;
        try {
          handle = await this.withTimeout(this.backend.open(info.path), 'open');
          const opened = handle;
          const session = await this.withTimeout(this.profile.attach(opened, info, this.match), 'attach');
          this.adopt(handle, info, session);
          return;
        } catch (error) {
          lastError = toKioskError(error, 'HID_UNAVAILABLE');
          this.log.warn({ path: info.path, err: lastError.toPayload() }, 'candidate device rejected');
          if (handle) await handle.close().catch(() => undefined);
        }
      }
    } catch (error) {
      lastError = toKioskError(error, 'HID_UNAVAILABLE');
    }
    this.faultKind = lastError ? 'failed' : 'missing';
    throw (
      lastError ??
      new KioskError(
        'HID_UNAVAILABLE',
        `no ${this.profile.driver} device matches the ${this.role} configuration`,
      )
    );
  }

  private adopt(handle: HidHandle, info: HidDeviceInfo, session: S): void {
    const offData = handle.onData((report) => this.emit('input', report));
    const offError = handle.onError((error) => {
      if (this.connection?.handle !== handle) return;
      void this.fault(
        new KioskError('HID_FAILED', `${this.role} transport error: ${error.message}`),
        'missing',
      );
    });
    this.connection = {
      handle,
      info,
      session,
      unsubscribe: () => {
        offData();
        offError();
      },
    };
    this.log.info({ path: info.path, product: info.product }, 'device connected');
  }

  private async drop(): Promise<void> {
    const connection = this.connection;
    this.connection = null;
    if (!connection) return;
    connection.unsubscribe();
    await connection.handle.close().catch(() => undefined);
  }

  private async fault(error: KioskError, kind: 'missing' | 'failed'): Promise<void> {
    if (!this.connection) return;
    this.log.warn({ err: error.toPayload() }, 'device lost');
    this.faultKind = kind;
    await this.supervisor.lost(error);
  }
}
