// Human output of `minis3`: sizes, times and plain aligned tables. `--json` bypasses all of it.
import { formatSize } from "../services/common/units";

export { formatSize };

/** A span as people say it, two units at most: "450 ms", "12 s", "3 min 20 s", "23 h 59 min", "6 d 2 h". */
export function formatSpan(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)} ms`;
  if (abs < 60_000) return `${(abs / 1000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "min"],
    [1000, "s"],
  ];
  const first = units.findIndex(([n]) => abs >= n);
  const [n1, u1] = units[first];
  const c1 = Math.floor(abs / n1);
  const next = units[first + 1];
  const c2 = next ? Math.floor((abs - c1 * n1) / next[0]) : 0;
  return c2 ? `${c1} ${u1} ${c2} ${next[1]}` : `${c1} ${u1}`;
}

/** "in 23 h 59 min" / "3 min ago" / "now", measured from `nowMs`. */
export function relativeTime(atMs: number, nowMs = Date.now()): string {
  const diff = atMs - nowMs;
  if (Math.abs(diff) < 1000) return "now";
  return diff > 0 ? `in ${formatSpan(diff)}` : `${formatSpan(-diff)} ago`;
}

/** "2026-12-01 10:38:37Z" from an ISO time (or epoch ms): sortable and short. */
export function formatTime(at: string | number): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return String(at);
  return d
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d{3}Z$/, "Z");
}

/** A time and how far from now it is: "2026-12-02 10:38:37Z (in 23 h 59 min)". */
export function timeAndRelative(at: string | number, nowMs = Date.now()): string {
  const ms = new Date(at).getTime();
  return Number.isNaN(ms) ? String(at) : `${formatTime(ms)} (${relativeTime(ms, nowMs)})`;
}

/** Rows as left-aligned columns, two spaces apart; `right` names the columns aligned right (numbers). */
export function table(header: string[], rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? "").length)));
  return all
    .map((r) =>
      r
        .map((cell, c) => (right.has(c) ? cell.padStart(widths[c]) : c === r.length - 1 ? cell : cell.padEnd(widths[c])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** Bytes per second of a transfer, in binary units. */
export function formatRate(bytes: number, ms: number): string {
  return ms > 0 ? `${formatSize(Math.round((bytes * 1000) / ms))}/s` : "-";
}
