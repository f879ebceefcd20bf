import type { Logger } from "../common/logger";
import { DiskBackend } from "../blobstore/disk-backend";

export interface TrashBackendOptions {
  dataDir: string;
  chunkSize: number;
  log: Logger;
  /** DiskBackend's maxSmallBlobs (0: from the heap's limit). */
  maxSmallBlobs?: number;
}

/**
 * The delete node's trash: the storage node's disk layout as it is (segments + files) with the attributes
 * the coordinator sends (bucket, key, versionId, reason, deletedAtMs, purgeAtMs...).
 *
 * It never expires anything itself: only the coordinator's purge job removes a blob, once the
 * catalogue (on MariaDB's clock) says the version is due and forgets it. A sweep by this node's own
 * clock and purgeAtMs attribute removed versions the catalogue still listed as restorable whenever
 * this clock ran ahead, or an undelete had restored them (review 2026-11-30, finding 5). Copies the
 * catalogue no longer names are left to a catalogue-aware scrubber.
 */
export function trashBackend(opts: TrashBackendOptions): DiskBackend {
  return new DiskBackend({ ...opts, kind: "delete" });
}
