// Minimal promise helpers over the npm `pcsclite` binding for harness-level tests (the product code
// uses main/core/card/ instead).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Pcsc = any;

export function openPcsc(): Pcsc {
  return require('pcsclite')();
}
