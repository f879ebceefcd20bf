/**
 * Where a segment group's writev and fdatasync run. Node puts file calls on its thread pool, and
 * each trip there costs a futex wake and an eventfd wake: on this kind of VM, context switches
 * cost more than writing a few KiB to the page cache or than an fdatasync on a fast disk (measured:
 * a storage node spent ~25 % less CPU per small upload with both on the event loop). A slow disk
 * must not stall the loop, though, since reads wait behind it: so the sync stays on the loop only
 * while recent syncs were fast, judged by a moving average that also watches them when off it.
 */
export class GroupWritePolicy {
  private averageSyncMs = 0;

  constructor(
    /** Groups up to this many bytes are written from the loop. */
    private readonly loopWriteMaxBytes = 256 * 1024,
    /** fdatasync runs on the loop while recent ones averaged less than this. */
    private readonly loopSyncMaxMs = 1,
  ) {}

  writeOnLoop(bytes: number): boolean {
    return bytes <= this.loopWriteMaxBytes;
  }

  syncOnLoop(bytes: number): boolean {
    return this.writeOnLoop(bytes) && this.averageSyncMs < this.loopSyncMaxMs;
  }

  /** How long a sync took (on the loop or off it, queueing included). */
  synced(ms: number): void {
    this.averageSyncMs = 0.8 * this.averageSyncMs + 0.2 * ms;
  }
}
