// Distinct tones generated with Web Audio (no sound files to ship): admitted = two rising notes,
// refused = two low buzzes, attention = three short mid beeps. Volume 0..1 from the terminal's status.
import type { Tone } from './model.js';

interface Note {
  hz: number;
  startS: number;
  lengthS: number;
  wave: OscillatorType;
}

export const toneNotes: Record<Tone, Note[]> = {
  admitted: [
    { hz: 1046.5, startS: 0, lengthS: 0.12, wave: 'sine' },
    { hz: 1568, startS: 0.13, lengthS: 0.22, wave: 'sine' },
  ],
  refused: [
    { hz: 220, startS: 0, lengthS: 0.25, wave: 'square' },
    { hz: 220, startS: 0.32, lengthS: 0.35, wave: 'square' },
  ],
  attention: [
    { hz: 784, startS: 0, lengthS: 0.1, wave: 'triangle' },
    { hz: 784, startS: 0.16, lengthS: 0.1, wave: 'triangle' },
    { hz: 784, startS: 0.32, lengthS: 0.1, wave: 'triangle' },
  ],
};

let context: AudioContext | null = null;

export function playTone(tone: Tone, volume: number): void {
  // Recorded on the document so that the end-to-end run can tell which sound a screen made.
  document.documentElement.dataset.lastTone = tone;
  if (volume <= 0) return;
  try {
    context ??= new AudioContext();
    if (context.state === 'suspended') void context.resume();
    const ctx = context;
    const t0 = ctx.currentTime + 0.01;
    for (const note of toneNotes[tone]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = note.wave;
      osc.frequency.value = note.hz;
      // Short ramps avoid clicks; square waves are louder, so they get less gain.
      const peak = Math.min(1, volume) * (note.wave === 'square' ? 0.25 : 0.6);
      gain.gain.setValueAtTime(0, t0 + note.startS);
      gain.gain.linearRampToValueAtTime(peak, t0 + note.startS + 0.01);
      gain.gain.setValueAtTime(peak, t0 + note.startS + note.lengthS - 0.02);
      gain.gain.linearRampToValueAtTime(0, t0 + note.startS + note.lengthS);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + note.startS);
      osc.stop(t0 + note.startS + note.lengthS + 0.01);
    }
  } catch {
    // No audio device: the screen still shows the result; sound is a courtesy, never a failure.
  }
}
