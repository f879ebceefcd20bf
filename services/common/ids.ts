import { randomFillSync } from "node:crypto";

/**
 * Object version ids: 12 hex digits of milliseconds then 16 random hex digits, so they sort by
 * creation time and never collide between coordinators. They name blobs on every node.
 */
export function newVersionId(now = Date.now()): string {
  return now.toString(16).padStart(12, "0") + randomHex16();
}

// Random bytes drawn 4 KiB at a time: a getrandom call per id costs more than the rest of the id.
const pool = Buffer.alloc(4096);
let used = pool.length;

function randomHex16(): string {
  if (used + 8 > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += 8;
  return pool.toString("hex", used - 8, used);
}

export const VERSION_ID_RE = /^[0-9a-f]{28}$/;

/**
 * A request id: 16 upper-case hex digits, the form of S3's x-amz-request-id (which MiniS3's S3
 * endpoint answers with the same id).
 */
export function newRequestId(): string {
  return randomHex16().toUpperCase();
}
