import { monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from "node:perf_hooks";
import { LAG_SAMPLE_MS } from "./registry";

// A per-second record of what a process did (GET /status/timeline): for each named series, how many
// events each second and the largest and total value. Made to find stalls after the fact: the
// lifecycle's lateness tails (issue 12 item 7) were 1-3 s misses in some runs, and the question was
// what ran, and what did not, in the seconds before each late commit. Fixed memory: a ring of
// seconds, each a small map of the series that had events in it.

/** Seconds kept. */
const SECONDS = 900;

export interface SeriesSecond {
  n: number;
  max: number;
  sum: number;
}

/** One second: its start (Date.now(), whole seconds) and every series that had events in it. */
export interface TimelineSecond {
  at: number;
  series: Record<string, SeriesSecond>;
}

export class Timeline {
  private readonly ring: (TimelineSecond | undefined)[];

  constructor(private readonly seconds = SECONDS) {
    this.ring = new Array(seconds);
  }

  /** One event of `series` (a duration in ms, a lateness, a count...), in the second it happened. */
  record(series: string, value: number, nowMs = Date.now()): void {
    const at = nowMs - (nowMs % 1000);
    const slot = (at / 1000) % this.seconds;
    let s = this.ring[slot];
    if (!s || s.at !== at) s = this.ring[slot] = { at, series: {} };
    const v = (s.series[series] ??= { n: 0, max: value, sum: 0 });
    v.n++;
    v.sum += value;
    if (value > v.max) v.max = value;
  }

  /** The seconds kept since `sinceMs` (Date.now() clock), oldest first. */
  view(sinceMs = 0): TimelineSecond[] {
    return this.ring.filter((s): s is TimelineSecond => s !== undefined && s.at >= sinceMs).sort((a, b) => a.at - b.at);
  }
}

/** The process's own timeline: the batches, the due-row poller and the watch below write to it. */
export const timeline = new Timeline();

/**
 * Records the event loop's delay (`loop`: the largest each second, ms) and every GC pause
 * (`gc.minor`, `gc.major`, ... ms) into `t`. Sampled as the metrics' lag histogram is
 * (LAG_SAMPLE_MS: a 10 ms timer cost an idle process ~7 ms of CPU a second more; a stall still
 * shows, delaying the pending sample by its length). Costs one histogram read a second and one
 * observer callback per GC.
 */
export function watchProcess(t: Timeline = timeline): () => void {
  const delay = monitorEventLoopDelay({ resolution: LAG_SAMPLE_MS });
  delay.enable();
  const tick = setInterval(() => {
    if (delay.count) t.record("loop", delay.max / 1e6);
    delay.reset();
  }, 1000);
  tick.unref();
  const gcKinds: Record<number, string> = { 1: "minor", 2: "major", 4: "incremental", 8: "weakcb" };
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
      t.record(`gc.${gcKinds[kind] ?? kind}`, e.duration);
    }
  });
  gc.observe({ entryTypes: ["gc"] });
  return () => {
    clearInterval(tick);
    delay.disable();
    gc.disconnect();
  };
}
