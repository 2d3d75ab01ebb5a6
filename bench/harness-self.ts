// Measures the harness itself, so that other suites' microsecond figures can be read against it.
import { measure, type BenchContext, type Metrics } from './harness.js';

export async function run(_ctx: BenchContext): Promise<Metrics> {
  const empty = await measure(() => undefined, { warmup: 100, iterations: 2000 });
  return { 'harness.empty_call_p50_us': empty.p50 * 1000, 'harness.empty_call_p99_us': empty.p99 * 1000 };
}
