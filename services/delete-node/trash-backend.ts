import type { Logger } from "../common/logger";
import type { NodeStats } from "../membership/node-record";
import type { BlobBackend, BlobMeta, BlobReader, BlobWriter } from "../rpc/blob-backend";
import { DiskBackend } from "../blobstore/disk-backend";

export interface TrashBackendOptions {
  dataDir: string;
  chunkSize: number;
  log: Logger;
  /** How often expired blobs are purged (0: never, call sweep() yourself). */
  sweepIntervalMs?: number;
  now?: () => number;
}

/** The attribute the coordinator sets on every trashed blob: when it may be purged (ms since epoch). */
export const PURGE_AT_ATTRIBUTE = "purgeAtMs";

/**
 * The delete node's trash: the storage node's disk layout (segments + files) with the attributes
 * the coordinator sends (bucket, key, versionId, reason, deletedAtMs, purgeAtMs...). A sweep purges
 * blobs whose purgeAtMs has passed: a safety net, since the coordinator's purge jobs delete them first.
 */
export class TrashBackend implements BlobBackend {
  readonly kind = "delete" as const;
  private readonly disk: DiskBackend;
  /** blob id -> purgeAtMs, so a sweep never reads the disk to find what is due. */
  private readonly purgeAt = new Map<string, number>();
  private sweepTimer?: NodeJS.Timeout;
  private sweeping?: Promise<number>;
  private readonly now: () => number;

  constructor(private readonly opts: TrashBackendOptions) {
    this.disk = new DiskBackend({ dataDir: opts.dataDir, chunkSize: opts.chunkSize, log: opts.log, kind: "delete" });
    this.now = opts.now ?? Date.now;
  }

  async open(): Promise<void> {
    await this.disk.open();
    for await (const meta of this.disk.list()) this.track(meta);
    const every = this.opts.sweepIntervalMs ?? 5_000;
    if (every > 0) {
      this.sweepTimer = setInterval(() => {
        this.sweep().catch((e) => this.opts.log.error({ err: e }, "trash sweep failed"));
      }, every);
      this.sweepTimer.unref();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.sweeping?.catch(() => undefined);
    await this.disk.close();
  }

  async beginWrite(blobId: string, attributes: Record<string, string>): Promise<BlobWriter> {
    const writer = await this.disk.beginWrite(blobId, attributes);
    return {
      write: (chunk) => writer.write(chunk),
      abort: () => writer.abort(),
      commit: async (size, sha256) => this.track(await writer.commit(size, sha256)),
    };
  }

  async putSmall(blobId: string, attributes: Record<string, string>, data: Buffer, sha256: Buffer): Promise<BlobMeta> {
    return this.track(await this.disk.putSmall(blobId, attributes, data, sha256));
  }

  read(blobId: string, offset: number, length: number | undefined): Promise<BlobReader> {
    return this.disk.read(blobId, offset, length);
  }

  stat(blobId: string): Promise<BlobMeta | null> {
    return this.disk.stat(blobId);
  }

  async delete(blobId: string): Promise<boolean> {
    this.purgeAt.delete(blobId);
    return this.disk.delete(blobId);
  }

  list(): AsyncIterable<BlobMeta> {
    return this.disk.list();
  }

  stats(): Promise<NodeStats> {
    return this.disk.stats();
  }

  /** Purges every blob whose purgeAtMs has passed; returns how many. One sweep at a time. */
  sweep(): Promise<number> {
    if (!this.sweeping) {
      this.sweeping = this.purgeDue().finally(() => {
        this.sweeping = undefined;
      });
    }
    return this.sweeping;
  }

  private async purgeDue(): Promise<number> {
    const now = this.now();
    const due = [...this.purgeAt].filter(([, at]) => at <= now).map(([id]) => id);
    for (const id of due) {
      await this.delete(id);
    }
    if (due.length) this.opts.log.info({ purged: due.length }, "purged expired trash");
    return due.length;
  }

  private track(meta: BlobMeta): BlobMeta {
    const at = Number(meta.attributes[PURGE_AT_ATTRIBUTE]);
    if (Number.isFinite(at)) this.purgeAt.set(meta.blobId, at);
    else this.purgeAt.delete(meta.blobId);
    return meta;
  }
}
