import type { LifecycleJob } from "./job";

/**
 * Jobs out of retries stay visible in /status as failed for this many reconcile intervals, then go
 * round again.
 */
const RETRY_FAILED_AFTER_INTERVALS = 10;

/**
 * The reconciler's tick (lifecycle/reconciler.ts): every coordinator upserts its job scheduler and
 * BullMQ runs each tick once. It also sends exhausted jobs round again.
 */
export const reconcile: LifecycleJob<"reconcile"> = {
  name: "reconcile",
  concurrency: 1,
  async process(_data, ctx) {
    const counts = await ctx.reconciler.run();
    await ctx.scheduler.retryFailed(Date.now() - RETRY_FAILED_AFTER_INTERVALS * ctx.opts.reconcileIntervalMs);
    return counts;
  },
};
