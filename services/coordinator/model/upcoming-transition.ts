import type { BytesTier } from "./version-row";

/**
 * A lifecycle move some version has coming (the console's and `minis3 status`'s "upcoming"): its
 * demotion to cold, its trash move (due at its delete: overdue until the poller takes it) or its
 * purge, and when, by the rules of model/object-view.ts nextTransition.
 */
export interface UpcomingTransition {
  transition: "demote" | "trash" | "purge";
  /** Epoch ms; in the past when the move is overdue. */
  dueAtMs: number;
  bucket: string;
  key: string;
  versionId: string;
  size: number;
  /** Where its bytes are now. */
  tier: BytesTier;
}
