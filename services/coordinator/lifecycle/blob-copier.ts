import { NotFoundError, UnavailableError } from "../../common/errors";
import type { Logger } from "../../common/logger";
import { Semaphore } from "../../common/semaphore";
import type { NodePool } from "../cluster/node-pool";
import type { VersionRow } from "../model/version-row";
import { ReplicatedUpload } from "../objects/replicated-upload";

/**
 * Copies a version's bytes between tiers: one read from the first source that answers, streamed
 * to every target at once. Each target checks size and sha256 against the catalogue's before it
 * makes the copy durable, so a copy that returns is verified in the next tier.
 */
export class BlobCopier {
  /**
   * Streaming copies (large objects) run one at a time, whatever the queues' concurrency; small
   * ones are not held up by them. Each keeps several MiB in flight (HTTP/2 windows, stream
   * buffers), and the allocator keeps what was freed: after three 64 MiB objects were read, their
   * trash moves left the coordinator ~65 MiB larger for good eight at a time, ~70 MiB two at a
   * time, ~3 MiB one at a time. (A copy of a large object is disk- and network-bound anyway.)
   */
  private readonly streams = new Semaphore(1);

  /** Blobs up to smallMax travel whole on the nodes' Exchange streams (no call, no file each). */
  constructor(private readonly nodes: NodePool, private readonly log: Logger, private readonly smallMax: number) {}

  /** Returns the targets holding a verified copy (at least `quorum`, else it throws). */
  async copy(v: VersionRow, sources: string[], targets: string[], quorum: number, attributes: Record<string, string> = {}): Promise<string[]> {
    const ordered = [...sources.filter((id) => this.nodes.isLive(id)), ...sources.filter((id) => !this.nodes.isLive(id))];
    let lastError: unknown = new UnavailableError(`no source for ${v.versionId}`);
    if (v.size <= this.smallMax) {
      for (const source of ordered) {
        try {
          const { data } = await this.nodes.client(source).getSmall(v.versionId);
          return await this.putSmall(v, data, targets, quorum, attributes);
        } catch (e) {
          lastError = e;
        }
      }
      throw lastError;
    }
    return this.streams.run(() => this.copyStreamed(v, ordered, targets, quorum, attributes));
  }

  private async copyStreamed(v: VersionRow, ordered: string[], targets: string[], quorum: number, attributes: Record<string, string>): Promise<string[]> {
    let lastError: unknown = new UnavailableError(`no source for ${v.versionId}`);
    for (const source of ordered) {
      let read;
      try {
        read = await this.nodes.client(source).readBlob(v.versionId, 0);
      } catch (e) {
        lastError = e;
        continue;
      }
      const upload = new ReplicatedUpload(this.nodes, targets, v.versionId, quorum, this.log, attributes);
      try {
        for await (const chunk of read.chunks) await upload.write(chunk);
        return await upload.finish(v.size, Buffer.from(v.sha256, "hex"));
      } catch (e) {
        upload.abort();
        lastError = e;
        this.log.warn({ version: v.versionId, source, err: e }, "copy failed; trying another source");
      }
    }
    throw lastError instanceof NotFoundError ? new NotFoundError(`no copy of ${v.versionId} found on ${ordered.join(", ")}`) : lastError;
  }

  private async putSmall(v: VersionRow, data: Buffer, targets: string[], quorum: number, attributes: Record<string, string>): Promise<string[]> {
    const sha = Buffer.from(v.sha256, "hex");
    const results = await Promise.allSettled(targets.map((id) => this.nodes.client(id).putSmall(v.versionId, attributes, data, sha)));
    const ok = targets.filter((_, i) => results[i].status === "fulfilled");
    if (ok.length < quorum) {
      await this.remove(v.versionId, ok);
      const failure = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      throw failure.reason;
    }
    return ok;
  }

  /** Deletes copies, best effort; returns the nodes where the delete failed (to retry later). */
  async remove(versionId: string, nodeIds: string[]): Promise<string[]> {
    const failed: string[] = [];
    await Promise.all(nodeIds.map(async (id) => {
      try {
        await this.nodes.client(id).deleteBlob(versionId);
      } catch (e) {
        failed.push(id);
        this.log.warn({ node: id, version: versionId, err: e }, "could not delete a copy; will retry");
      }
    }));
    return failed;
  }
}
