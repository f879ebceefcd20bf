// Young collections paced by the body bytes a process takes in, where `--expose-gc` gives it `gc`.
//
// Every piece of an HTTP body is a fresh Buffer (node:http's parser copies each socket read out), whose
// memory V8 counts as external and frees only when a collection finds the Buffer dead. Streaming a
// body allocates almost nothing on the JS heap itself, so young collections came rarely (a storage node
// took 5 while ~340 MiB passed it) and the dead pieces piled up as external memory, which V8 counts
// against the old generation's limit: it started a full mark-compact every 12-48 MiB of body
// ("[IncrementalMarking] Start (allocation limit)" at 10 of 22 MB in a storage node's trace). Those
// full collections (concurrent marking on the second core included) were a third of a storage
// node's CPU while large objects arrived. A young collection every 4 MiB frees the pieces first.
// Measured (2026-12-04, npm start's cluster, two 64 MiB uploads at once, 6 rounds, fresh keys,
// alternated fresh clusters): storage nodes' mark-compacts 51-62 -> 0-3 a run, their CPU
// 2,760-3,830 -> 1,570-2,330 ms; in the coordinator as well (warm, after a small-object load)
// 16-21 -> 7-9 mark-compacts and 3,680-4,470 -> 3,310-3,890 ms; 768 MiB at 140-171 -> 176-233 MiB/s.
// A forced young collection cost 2.3 ms on average in the busy coordinator under the overwrite row
// (a small upload's body counts too: about one a second there), against 4.6 ms for its own scavenges.

/** Body bytes between two young collections. */
export const YOUNG_GC_EVERY_BYTES = 4 * 1024 * 1024;

let sinceLast = 0;

/**
 * Counts `bytes` of freshly allocated body pieces, and runs a young collection each time the count
 * passes a multiple of YOUNG_GC_EVERY_BYTES (process-wide: concurrent bodies share the count). What a
 * piece brings past the multiple counts toward the next one: started from zero each time, the pieces'
 * odd sizes (65,445 bytes, say) went uncounted, and a 128 MiB upload got 31 collections instead of 32.
 * Without `--expose-gc` it does nothing.
 */
export function countFreshBodyBytes(bytes: number): void {
  sinceLast += bytes;
  if (sinceLast < YOUNG_GC_EVERY_BYTES) return;
  sinceLast %= YOUNG_GC_EVERY_BYTES;
  globalThis.gc?.({ type: "minor" });
}

/**
 * Takes back the count of `bytes` whose pieces were freed outright (common/body-pieces.ts): they
 * leave nothing for a collection to find. What was counted before them stays counted.
 */
export function forgetFreshBodyBytes(bytes: number): void {
  sinceLast = Math.max(0, sinceLast - bytes);
}
