/** Small statistics helpers shared by the benchmarks. */

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export function summary(values: number[], unit = "ms", digits = 2): string {
  const f = (v: number): string => v.toFixed(digits);
  return `p50 ${f(percentile(values, 50))} ${unit}, p99 ${f(percentile(values, 99))} ${unit} (n=${values.length})`;
}

export function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}
