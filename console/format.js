// Human-readable sizes, durations and times for the console's tables.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 → "1.5 KiB". */
export function bytes(n) {
  if (!Number.isFinite(n)) return "—";
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${UNITS[i]}`;
}

/** 93_000 → "1 min 33 s". */
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 1) return `${Math.round(Math.abs(ms))} ms`;
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  if (s < 86400) return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ""}`;
  return `${Math.floor(s / 86400)} d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)} h` : ""}`;
}

/** A time relative to now: "in 5 min" or "3 s ago". */
export function relative(time, now = Date.now()) {
  const at = typeof time === "number" ? time : Date.parse(time);
  if (!Number.isFinite(at)) return "—";
  const d = at - now;
  return d >= 0 ? `in ${duration(d)}` : `${duration(d)} ago`;
}

/** A local date and time, to the second. */
export function when(time) {
  const at = typeof time === "number" ? time : Date.parse(time);
  return Number.isFinite(at) ? new Date(at).toLocaleString() : "—";
}

export const count = (n) => (Number.isFinite(n) ? n.toLocaleString() : "—");
