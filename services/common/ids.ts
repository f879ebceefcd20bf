import { randomBytes } from "node:crypto";

/**
 * Object version ids: 12 hex digits of milliseconds then 16 random hex digits, so they sort by
 * creation time and never collide between coordinators. They name blobs on every node.
 */
export function newVersionId(now = Date.now()): string {
  return now.toString(16).padStart(12, "0") + randomBytes(8).toString("hex");
}

export const VERSION_ID_RE = /^[0-9a-f]{28}$/;
