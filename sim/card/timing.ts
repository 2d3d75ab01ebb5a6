// Timing model of a real chip behind a contactless reader: per-byte air time, per-command overhead,
// on-card RSA signature time. 'instant' answers at once. Figures from the brief (jpki-card.md).
import { z } from 'zod';

export const TimingPresets = {
  instant: { perByteUs: 0, perCommandMs: 0, signMs: 0 },
  /** 106 kbit/s (~85 µs/byte), slow chip. */
  'contactless-106': { perByteUs: 85, perCommandMs: 4, signMs: 250 },
  /** 424 kbit/s (~21 µs/byte), current chip. */
  'contactless-424': { perByteUs: 21, perCommandMs: 2, signMs: 120 },
  /** Contact reader, current chip. */
  contact: { perByteUs: 10, perCommandMs: 1, signMs: 60 },
} as const;
export type TimingPreset = keyof typeof TimingPresets;

export const TimingSpec = z
  .object({
    preset: z.enum(Object.keys(TimingPresets) as [TimingPreset, ...TimingPreset[]]).default('instant'),
    perByteUs: z.number().nonnegative().optional(),
    perCommandMs: z.number().nonnegative().optional(),
    signMs: z.number().nonnegative().optional(),
  })
  .strict();
export type TimingSpec = z.output<typeof TimingSpec>;

export interface TimingModel {
  perByteUs: number;
  perCommandMs: number;
  signMs: number;
}

export function timingModel(spec: TimingSpec | TimingPreset): TimingModel {
  const s = typeof spec === 'string' ? { preset: spec } : spec;
  const base = TimingPresets[s.preset ?? 'instant'];
  return {
    perByteUs: s.perByteUs ?? base.perByteUs,
    perCommandMs: s.perCommandMs ?? base.perCommandMs,
    signMs: s.signMs ?? base.signMs,
  };
}

/** Milliseconds a real chip would take for this exchange. */
export function exchangeMs(
  model: TimingModel,
  commandLength: number,
  responseLength: number,
  signed: boolean,
) {
  if (model.perByteUs === 0 && model.perCommandMs === 0 && (!signed || model.signMs === 0)) return 0;
  return (
    model.perCommandMs +
    ((commandLength + responseLength) * model.perByteUs) / 1000 +
    (signed ? model.signMs : 0)
  );
}
