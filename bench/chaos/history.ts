// What the chaos workload knows about each key, and the checker that judges every answer against it.
//
// The workload runs at most one operation per key at a time, so a key's operations form a sequence:
// everything before an operation had ended when it started. A write or delete that was acknowledged
// is the key's state from then on. One that failed in a way that says nothing (a reset connection, a
// 5xx, a timeout) may or may not have happened, and may even land later: the server can still be
// finishing it after the client gave up. Such an outcome is kept as a "maybe", allowed as the key's
// state at any later point, for the rest of the run. Only a refused connection is known not to have
// reached a coordinator at all. That is honest and strict at once: a key that never saw an unclear
// outcome has exactly one right answer.

/** What a key holds: a version's bytes (by sha256) or nothing. */
export type KeyState = { sha256: string; size: number } | "absent";

/** How an observation broke the rules. */
export type Violation =
  /** bytes that were never written to the key (or a body that does not match what was acknowledged) */
  | "wrong"
  /** an acknowledged write is gone: absent, or replaced by an older one (final check) */
  | "lost"
  /** a deleted key came back with an older version (final check) */
  | "resurrected"
  /** during the run: an answer older than what was acknowledged before the read started */
  | "stale";

export interface ViolationRecord {
  kind: Violation;
  key: string;
  /** What was read: a sha256 prefix or "absent". */
  observed: string;
  /** What an answer could have been. */
  allowed: string[];
  atMs: number;
}

const show = (s: KeyState): string => (s === "absent" ? "absent" : `${s.sha256.slice(0, 12)}…(${s.size} B)`);
const same = (a: KeyState, b: KeyState): boolean =>
  a === "absent" || b === "absent" ? a === b : a.sha256 === b.sha256 && a.size === b.size;

class KeyHistory {
  /** The last acknowledged state; keys start absent (each run writes under a prefix of its own). */
  acked: KeyState = "absent";
  /** Effects of operations whose outcome is unknown: each may be the key's state from its start on. */
  readonly maybes: KeyState[] = [];
  /** Every body ever sent to this key, acknowledged or not: tells an old version from wrong bytes. */
  readonly written = new Set<string>();

  allows(s: KeyState): boolean {
    return same(this.acked, s) || this.maybes.some((m) => same(m, s));
  }

  allowed(): string[] {
    return [show(this.acked), ...this.maybes.map(show)];
  }
}

export interface HistoryTotals {
  keys: number;
  /** Keys with at least one unknown outcome (their check allows each of those). */
  uncertainKeys: number;
  acknowledgedWrites: number;
  acknowledgedDeletes: number;
  maybeWrites: number;
  maybeDeletes: number;
  /** Failed before reaching a coordinator (connection refused): known not to have happened. */
  notApplied: number;
  reads: number;
}

export class History {
  private readonly keys = new Map<string, KeyHistory>();
  readonly violations: ViolationRecord[] = [];
  private readonly totals = { acknowledgedWrites: 0, acknowledgedDeletes: 0, maybeWrites: 0, maybeDeletes: 0, notApplied: 0, reads: 0 };

  private of(key: string): KeyHistory {
    let h = this.keys.get(key);
    if (!h) this.keys.set(key, (h = new KeyHistory()));
    return h;
  }

  /** Call before a write is sent: its body is then known to the key, whatever becomes of it. */
  writing(key: string, sha256: string): void {
    this.of(key).written.add(sha256);
  }

  writeAcknowledged(key: string, state: { sha256: string; size: number }): void {
    this.of(key).acked = state;
    this.totals.acknowledgedWrites++;
  }

  deleteAcknowledged(key: string): void {
    this.of(key).acked = "absent";
    this.totals.acknowledgedDeletes++;
  }

  /** A write or delete whose outcome is unknown. */
  maybe(key: string, state: KeyState): void {
    const h = this.of(key);
    if (!h.maybes.some((m) => same(m, state))) h.maybes.push(state);
    if (state === "absent") this.totals.maybeDeletes++;
    else this.totals.maybeWrites++;
  }

  /** A write or delete that never reached a coordinator. */
  notApplied(): void {
    this.totals.notApplied++;
  }

  /**
   * Judges what a read (or a delete's 404) saw while the workload ran. Returns the violation, if any:
   * unknown bytes are wrong, anything else not allowed is stale.
   */
  observe(key: string, seen: KeyState): Violation | undefined {
    this.totals.reads++;
    const h = this.of(key);
    if (h.allows(seen)) return undefined;
    const kind: Violation = seen !== "absent" && !h.written.has(seen.sha256) ? "wrong" : "stale";
    this.record(kind, key, seen, h);
    return kind;
  }

  /** Judges the final read of a key, after the faults stopped. */
  final(key: string, seen: KeyState): Violation | undefined {
    const h = this.of(key);
    if (h.allows(seen)) return undefined;
    let kind: Violation;
    if (seen !== "absent" && !h.written.has(seen.sha256)) kind = "wrong";
    else if (h.acked === "absent") kind = "resurrected";
    else kind = "lost";
    this.record(kind, key, seen, h);
    return kind;
  }

  /** Whether a key must, may or must not hold bytes at the end. */
  expectation(key: string): "present" | "absent" | "either" {
    const h = this.of(key);
    const states = [h.acked, ...h.maybes];
    if (states.every((s) => s === "absent")) return "absent";
    if (states.every((s) => s !== "absent")) return "present";
    return "either";
  }

  /** A violation found outside observe/final (an acknowledgement that names other bytes). */
  violation(kind: Violation, key: string, observed: string, allowed: string[]): void {
    this.violations.push({ kind, key, observed, allowed, atMs: Date.now() });
  }

  allKeys(): string[] {
    return [...this.keys.keys()];
  }

  count(kind: Violation): number {
    return this.violations.filter((v) => v.kind === kind).length;
  }

  summary(): HistoryTotals {
    let uncertainKeys = 0;
    for (const h of this.keys.values()) if (h.maybes.length) uncertainKeys++;
    return { keys: this.keys.size, uncertainKeys, ...this.totals };
  }

  private record(kind: Violation, key: string, seen: KeyState, h: KeyHistory): void {
    this.violations.push({ kind, key, observed: show(seen), allowed: h.allowed(), atMs: Date.now() });
  }
}
