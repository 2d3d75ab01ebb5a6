// Typed access to the `pcsclite` native binding, loaded lazily: a machine without libpcsclite gets a
// typed PCSC_UNAVAILABLE state instead of a crash at import time.
import { createRequire } from 'node:module';
import { KioskError } from '../../../base/errors.js';

export interface PcscStatus {
  state: number;
  atr?: Buffer;
}

export interface PcscReader {
  readonly name: string;
  readonly connected: boolean;
  state: number;
  SCARD_SHARE_SHARED: number;
  SCARD_SHARE_EXCLUSIVE: number;
  SCARD_PROTOCOL_T0: number;
  SCARD_PROTOCOL_T1: number;
  SCARD_STATE_PRESENT: number;
  SCARD_STATE_MUTE: number;
  SCARD_STATE_EMPTY: number;
  SCARD_LEAVE_CARD: number;
  SCARD_RESET_CARD: number;
  on(event: 'status', listener: (status: PcscStatus) => void): this;
  on(event: 'end', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  removeAllListeners(event?: string): this;
  connect(
    options: { share_mode?: number; protocol?: number },
    cb: (err: Error | null, protocol: number) => void,
  ): void;
  disconnect(disposition: number, cb: (err: Error | null) => void): void;
  transmit(
    data: Buffer,
    resLen: number,
    protocol: number,
    cb: (err: Error | null, response: Buffer) => void,
  ): void;
  close(): void;
}

export interface PcscContext {
  on(event: 'reader', listener: (reader: PcscReader) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  removeAllListeners(event?: string): this;
  close(): void;
}

let factory: (() => PcscContext) | undefined;

export function createPcscContext(): PcscContext {
  if (!factory) {
    try {
      const require = createRequire(import.meta.url);
      factory = require('pcsclite') as () => PcscContext;
    } catch (error) {
      throw new KioskError('PCSC_UNAVAILABLE', 'the pcsclite module cannot be loaded', undefined, {
        cause: error,
      });
    }
  }
  return factory();
}
