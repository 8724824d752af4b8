/** Printing data: aligned tables for people, JSON arrays for scripts. */
import { escapeForTerminal, printable } from "./printable.js";

export function table(rows: Array<Record<string, string | number>>, columns: string[]): string {
  const widths = columns.map((c) =>
    Math.max(c.length, ...rows.map((r) => String(r[c] ?? "").length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return (
    [
      line(columns.map((c) => c.toUpperCase())),
      ...rows.map((r) => line(columns.map((c) => printable(String(r[c] ?? ""))))),
    ].join("\n") + "\n"
  );
}

export function json(rows: unknown[]): string {
  return escapeForTerminal(JSON.stringify(rows, null, 2)) + "\n";
}

export function seconds(ms: number): string {
  return ms < 1000
    ? `${ms}ms`
    : ms < 120_000
      ? `${(ms / 1000).toFixed(1)}s`
      : `${Math.round(ms / 60_000)}m`;
}
