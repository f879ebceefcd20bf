/**
 * Weight of each new sync in the moving average. Syncs on this VM's disk take ~0.4 ms at the median
 * but ~1.6 at p90 and ~4 at p99 (strace, the overwrite row): at 0.2 the average crossed 1 ms every
 * few groups on a fast disk; at 0.05 a single 40 ms sync still takes it over at once.
 */
const SMOOTHING = 0.05;

/**
 * A sync timed on the loop is the disk's time plus, on a machine short of cores, the wait for a core
 * once the disk is done: on this 2-core VM under the overwrite row syncs on the loop averaged 0.9-2 ms
 * over 2 s windows (up to 9 ms) while the syscall itself took ~0.4 ms at the median. At 1 ms they went
 * to the pool most of the time. 4 ms keeps them on the loop here, and a disk that needs more than that
 * per sync (a spinning one, a busy network volume) still moves them off.
 */
const LOOP_SYNC_MAX_MS = 4;

/**
 * Where a segment group's writev and fdatasync run. Node puts file calls on its thread pool, and
 * each trip there costs a futex wake and an eventfd wake: on this kind of VM, context switches
 * cost more than writing a few KiB to the page cache or than an fdatasync on a fast disk (measured:
 * a storage node spent ~25 % less CPU per small upload with both on the event loop). A slow disk
 * must not stall the loop, though, since reads wait behind it: so the sync stays on the loop only
 * while recent syncs there averaged less than `loopSyncMaxMs`.
 *
 * Only syncs run on the loop are timed. One run in the pool is timed with the pool's queue and the
 * loop's own delay in it, so under load a busy loop read as a slow disk and kept the syncs off the
 * loop for good: in the overwrite row every group's sync went through the pool while the syscall
 * itself took ~0.8 ms on average (strace). While the syncs are off the loop, one small group in
 * `probeEvery` is synced on it to time the disk again; each probe that is itself slow doubles that
 * spacing (up to `maxProbeEvery`), so a slow disk stalls the loop ever more rarely.
 */
export class GroupWritePolicy {
  /** Moving average of the syncs timed on the loop. */
  private averageSyncMs = 0;
  /** Small groups synced off the loop since the last probe. */
  private sinceProbe = 0;
  private probeAfter: number;

  constructor(
    /** Groups up to this many bytes are written from the loop. */
    private readonly loopWriteMaxBytes = 256 * 1024,
    /** fdatasync runs on the loop while recent ones there averaged less than this; 0: never. */
    private readonly loopSyncMaxMs = LOOP_SYNC_MAX_MS,
    private readonly probeEvery = 8,
    private readonly maxProbeEvery = 1024,
  ) {
    this.probeAfter = probeEvery;
  }

  writeOnLoop(bytes: number): boolean {
    return bytes <= this.loopWriteMaxBytes;
  }

  /** Where this group's sync runs; true for a probe too (report it with `synced(ms, true)`). */
  syncOnLoop(bytes: number): boolean {
    if (!this.writeOnLoop(bytes) || this.loopSyncMaxMs <= 0) return false;
    if (this.averageSyncMs < this.loopSyncMaxMs) return true;
    if (++this.sinceProbe < this.probeAfter) return false;
    this.sinceProbe = 0;
    return true;
  }

  /** How long a sync took; only one run on the loop (`onLoop`) counts. */
  synced(ms: number, onLoop: boolean): void {
    if (!onLoop) return;
    const wasFast = this.averageSyncMs < this.loopSyncMaxMs;
    this.averageSyncMs += (ms - this.averageSyncMs) * SMOOTHING;
    const slow = this.averageSyncMs >= this.loopSyncMaxMs;
    // A probe that found the disk slow spaces the next further; a fast one keeps them close.
    if (slow && !wasFast && ms >= this.loopSyncMaxMs) this.probeAfter = Math.min(2 * this.probeAfter, this.maxProbeEvery);
    else this.probeAfter = this.probeEvery;
  }
}
