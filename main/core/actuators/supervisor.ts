// One supervised HID device: find it (vendor/product id, serial, path), open it, let the driver attach,
// watch it, and on any fault close it and retry with exponential backoff. A missing device is a state
// with a status object and 'status' events, never an exception escaping to the caller's event loop.
//
//   stopped ──start()──► searching ──found+attached──► connected
//      ▲                    │  ▲                           │ unplugged (presence poll, transport error)
//      │                    ▼  │ backoff timer             ▼ or an operation failed
//      └──stop()────── missing / failed ◄──────────────────┘
import { EventEmitter } from 'node:events';
import { KioskError, toKioskError, type ErrorPayload } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
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

export class SupervisedDevice<S> extends EventEmitter<{
  status: [DeviceStatus];
  connected: [S];
  input: [Uint8Array];
}> {
  private readonly log;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly presencePollMs: number;
  private readonly operationTimeoutMs: number;
  private connection: Connection<S> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private current: DeviceStatus;
  private running = false;
  private connecting = false;
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
    this.retryMinMs = options.retryMinMs ?? 250;
    this.retryMaxMs = options.retryMaxMs ?? 5000;
    this.presencePollMs = options.presencePollMs ?? 1000;
    this.operationTimeoutMs = options.operationTimeoutMs ?? 2000;
    this.current = {
      role,
      driver: profile.driver,
      state: 'stopped',
      since: new Date().toISOString(),
      device: null,
      lastError: null,
      attempts: 0,
      retryInMs: null,
    };
  }

  get status(): DeviceStatus {
    return { ...this.current, device: this.current.device ? { ...this.current.device } : null };
  }

  get connected(): boolean {
    return this.connection !== null;
  }

  get session(): S | null {
    return this.connection?.session ?? null;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.setState({ state: 'searching', attempts: 0, retryInMs: null });
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.clearTimer();
    await this.drop();
    this.setState({ state: 'stopped', device: null, retryInMs: null });
  }

  /**
   * Runs one operation on the device, serialised with the others. Throws HID_UNAVAILABLE when the device
   * is not connected; a failing operation drops the connection, schedules a reconnect and throws HID_FAILED.
   */
  run<T>(operation: (handle: HidHandle, session: S) => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      const connection = this.connection;
      if (!connection) {
        throw new KioskError('HID_UNAVAILABLE', `${this.role} device is ${this.current.state}`, {
          role: this.role,
        });
      }
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
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Forces an attempt now (staff "retry" button, or a test after replugging). */
  retryNow(): void {
    if (!this.running || this.connection) return;
    this.clearTimer();
    this.schedule(0);
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

  private schedule(ms: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick();
    }, ms);
    this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private backoffMs(): number {
    const exp = Math.min(this.current.attempts, 16);
    return Math.min(this.retryMaxMs, this.retryMinMs * 2 ** exp);
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    if (this.connection) {
      await this.checkPresence();
    } else {
      await this.connect();
    }
  }

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
    if (this.connection !== connection || !this.running) return;
    if (!present) {
      await this.fault(new KioskError('HID_UNAVAILABLE', `${this.role} device was unplugged`), 'missing');
      return;
    }
    this.schedule(this.presencePollMs);
  }

  private async connect(): Promise<void> {
    if (this.connecting) return;
    this.connecting = true;
    let lastError: KioskError | null = null;
    try {
      const all = await this.backend.enumerate();
      const candidates = all.filter((d) => matchesDevice(d, this.match, this.profile.usbSerialMatch));
      for (const info of candidates) {
        if (!this.running) return;
        let handle: HidHandle | null = null;
        try {
          handle = await this.withTimeout(this.backend.open(info.path), 'open');
          const opened = handle;
          const session = await this.withTimeout(this.profile.attach(opened, info, this.match), 'attach');
          if (!this.running) {
            await handle.close().catch(() => undefined);
            return;
          }
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
    } finally {
      this.connecting = false;
    }
    if (!this.running || this.connection) return;
    const attempts = this.current.attempts + 1;
    const error =
      lastError ??
      new KioskError(
        'HID_UNAVAILABLE',
        `no ${this.profile.driver} device matches the ${this.role} configuration`,
      );
    this.current.attempts = attempts;
    const wait = this.backoffMs();
    this.setState({
      state: lastError ? 'failed' : 'missing',
      device: null,
      lastError: error.toPayload(),
      attempts,
      retryInMs: wait,
    });
    this.schedule(wait);
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
    this.setState({
      state: 'connected',
      device: { path: info.path, product: info.product ?? null },
      lastError: null,
      attempts: 0,
      retryInMs: null,
    });
    this.emit('connected', session);
    this.schedule(this.presencePollMs);
  }

  private async drop(): Promise<void> {
    const connection = this.connection;
    this.connection = null;
    if (!connection) return;
    connection.unsubscribe();
    await connection.handle.close().catch(() => undefined);
  }

  private async fault(error: KioskError, state: 'missing' | 'failed'): Promise<void> {
    if (!this.connection) return;
    this.log.warn({ err: error.toPayload() }, 'device lost');
    await this.drop();
    if (!this.running) return;
    this.current.attempts = 0;
    const wait = this.retryMinMs;
    this.setState({ state, device: null, lastError: error.toPayload(), attempts: 0, retryInMs: wait });
    this.schedule(wait);
  }

  private setState(patch: Partial<DeviceStatus>): void {
    const changedState = patch.state !== undefined && patch.state !== this.current.state;
    this.current = { ...this.current, ...patch };
    if (changedState) this.current.since = new Date().toISOString();
    this.emit('status', this.status);
  }
}
