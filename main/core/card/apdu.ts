// ISO 7816-4 command APDUs: encode (short or extended, chosen by size) and parse (all seven cases).
// Pure and dependency-free: used by the terminal's transport and by the virtual card.

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data: Uint8Array;
  /** Expected response length: null = none (no Le), 1..65536 (Le 00 short = 256, 0000 extended = 65536). */
  le: number | null;
  extended: boolean;
}

export interface CommandInput {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data?: Uint8Array;
  le?: number | null;
  /** Force extended length encoding. */
  extended?: boolean;
}

export class ApduFormatError extends Error {
  override name = 'ApduFormatError';
}

export function encodeCommand(input: CommandInput): Uint8Array {
  const data = input.data ?? new Uint8Array(0);
  const le = input.le ?? null;
  if (data.length > 65535) throw new ApduFormatError('command data too long');
  if (le !== null && (le < 1 || le > 65536)) throw new ApduFormatError('Le out of range');
  const extended = input.extended === true || data.length > 255 || (le !== null && le > 256);
  const out: number[] = [input.cla & 0xff, input.ins & 0xff, input.p1 & 0xff, input.p2 & 0xff];
  if (!extended) {
    if (data.length > 0) out.push(data.length, ...data);
    if (le !== null) out.push(le === 256 ? 0 : le);
  } else {
    if (data.length > 0) {
      out.push(0, (data.length >> 8) & 0xff, data.length & 0xff, ...data);
      if (le !== null) out.push(le === 65536 ? 0 : (le >> 8) & 0xff, le & 0xff);
    } else if (le !== null) {
      out.push(0, le === 65536 ? 0 : (le >> 8) & 0xff, le & 0xff);
    }
  }
  return Uint8Array.from(out);
}

export function parseCommand(bytes: Uint8Array): CommandApdu {
  if (bytes.length < 4) throw new ApduFormatError('command shorter than its header');
  const [cla, ins, p1, p2] = [bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!];
  const body = bytes.subarray(4);
  const base = { cla, ins, p1, p2 };
  const none = new Uint8Array(0);
  if (body.length === 0) return { ...base, data: none, le: null, extended: false };
  if (body.length === 1) return { ...base, data: none, le: body[0] === 0 ? 256 : body[0]!, extended: false };
  if (body[0] !== 0) {
    const lc = body[0]!;
    if (body.length === 1 + lc) return { ...base, data: body.slice(1), le: null, extended: false };
    if (body.length === 2 + lc) {
      const le = body[1 + lc]!;
      return { ...base, data: body.slice(1, 1 + lc), le: le === 0 ? 256 : le, extended: false };
    }
    throw new ApduFormatError('Lc does not match the command length');
  }
  // body[0] === 0 and more than one byte: extended
  if (body.length === 3) {
    const le = (body[1]! << 8) | body[2]!;
    return { ...base, data: none, le: le === 0 ? 65536 : le, extended: true };
  }
  if (body.length < 3) throw new ApduFormatError('truncated extended length');
  const lc = (body[1]! << 8) | body[2]!;
  if (lc === 0) throw new ApduFormatError('extended Lc of zero');
  if (body.length === 3 + lc) return { ...base, data: body.slice(3, 3 + lc), le: null, extended: true };
  if (body.length === 5 + lc) {
    const le = (body[3 + lc]! << 8) | body[4 + lc]!;
    return { ...base, data: body.slice(3, 3 + lc), le: le === 0 ? 65536 : le, extended: true };
  }
  throw new ApduFormatError('extended Lc does not match the command length');
}

/** Status word of a response APDU (last two bytes); -1 if the response is shorter than 2 bytes. */
export function statusWord(response: Uint8Array): number {
  if (response.length < 2) return -1;
  return (response[response.length - 2]! << 8) | response[response.length - 1]!;
}

export function responseData(response: Uint8Array): Uint8Array {
  return response.subarray(0, Math.max(0, response.length - 2));
}

export function withSw(data: Uint8Array | number[], sw: number): Uint8Array {
  const out = new Uint8Array(data.length + 2);
  out.set(data, 0);
  out[data.length] = (sw >> 8) & 0xff;
  out[data.length + 1] = sw & 0xff;
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new ApduFormatError('not hex');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Index of `needle` in `haystack`, or -1. */
export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
