// Parses Prometheus text exposition with parse-prometheus-text-format (an independent parser, so a test
// shows that what the endpoints serve is read the way Prometheus reads it), and reads one sample.
import { createRequire } from 'node:module';

export interface PromSample {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
export interface PromFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: PromSample[];
}

const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => PromFamily[];

export function parsePrometheus(text: string): Map<string, PromFamily> {
  return Object.assign(new Map(parse(text).map((f) => [f.name, f])), { text });
}

/**
 * The `_count` of one labelled histogram series. parse-prometheus-text-format keeps only unlabelled
 * histograms whole (it folds every labelled series into one bucket map and drops their counts), so the
 * count line is read from the text the parser has already accepted.
 */
export function histogramCount(
  families: Map<string, PromFamily>,
  name: string,
  labels: Record<string, string>,
): number {
  const text = (families as Map<string, PromFamily> & { text?: string }).text ?? '';
  for (const line of text.split('\n')) {
    const m = /^(\w+)_count\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

/** The sample of `name` whose labels include `labels` (a number; histograms: their count), or 0. */
export function sampleOf(
  families: Map<string, PromFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = families.get(name);
  const m = family?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  if (!m) return 0;
  return Number(m.value ?? m.count ?? 0);
}
