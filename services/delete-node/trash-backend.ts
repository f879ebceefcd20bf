import type { Logger } from "../common/logger";
import type { NodeStats } from "../membership/node-record";
import type { BlobBackend, BlobMeta, BlobReader, BlobWriter } from "../rpc/blob-backend";
import { DiskBackend } from "../blobstore/disk-backend";

export interface TrashBackendOptions {
  dataDir: string;
  chunkSize: number;
  log: Logger;
}

/**
 * The delete node's trash: the storage node's disk layout (segments + files) with the attributes
 * the coordinator sends (bucket, key, versionId, reason, deletedAtMs, purgeAtMs...).
 *
 * It never expires anything itself: only the coordinator's purge job removes a blob, once the
 * catalogue (on MariaDB's clock) says the version is due and forgets it. A sweep by this node's own
 * clock and purgeAtMs attribute removed versions the catalogue still listed as restorable whenever
 * this clock ran ahead, or an undelete had restored them (review 2026-11-30, finding 5). Copies the
 * catalogue no longer names are left to a catalogue-aware scrubber.
 */
export class TrashBackend implements BlobBackend {
  readonly kind = "delete" as const;
  private readonly disk: DiskBackend;

  constructor(opts: TrashBackendOptions) {
    this.disk = new DiskBackend({ dataDir: opts.dataDir, chunkSize: opts.chunkSize, log: opts.log, kind: "delete" });
  }

  open(): Promise<void> {
    return this.disk.open();
  }

  close(): Promise<void> {
    return this.disk.close();
  }

  beginWrite(blobId: string, attributes: Record<string, string>): Promise<BlobWriter> {
    return this.disk.beginWrite(blobId, attributes);
  }

  putSmall(blobId: string, attributes: Record<string, string>, data: Buffer, sha256: Buffer): Promise<BlobMeta> {
    return this.disk.putSmall(blobId, attributes, data, sha256);
  }

  read(blobId: string, offset: number, length: number | undefined): Promise<BlobReader> {
    return this.disk.read(blobId, offset, length);
  }

  stat(blobId: string): Promise<BlobMeta | null> {
    return this.disk.stat(blobId);
  }

  delete(blobId: string): Promise<boolean> {
    return this.disk.delete(blobId);
  }

  list(): AsyncIterable<BlobMeta> {
    return this.disk.list();
  }

  stats(): Promise<NodeStats> {
    return this.disk.stats();
  }
}
