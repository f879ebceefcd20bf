import { IntegrityError, MiniS3Error, UnavailableError } from "../../common/errors";
import type { Logger } from "../../common/logger";
import type { BlobUpload } from "../../rpc/client/node-client";
import type { NodePool } from "../cluster/node-pool";

/**
 * A large upload streamed to several nodes at once. Each chunk goes to every replica still in the
 * game and the next chunk waits until all of them took it (backpressure from the slowest replica;
 * memory stays at a chunk or two). A replica that fails drops out; below the write quorum the whole
 * upload fails and every replica discards its bytes.
 */
export class ReplicatedUpload {
  private readonly uploads: { id: string; up: BlobUpload; failed?: unknown }[];

  constructor(private readonly nodes: NodePool, targets: string[], private readonly versionId: string,
    private readonly quorum: number, private readonly log: Logger, attributes: Record<string, string> = {}) {
    this.uploads = targets.map((id) => ({ id, up: nodes.client(id).writeBlob(versionId, attributes) }));
  }

  private live() {
    return this.uploads.filter((u) => u.failed === undefined);
  }

  async write(chunk: Buffer): Promise<void> {
    await Promise.all(this.live().map((u) => u.up.write(chunk).catch((e) => this.fail(u, e))));
    this.checkQuorum();
  }

  /** Sends size and sha256; returns the nodes that made the blob durable (at least the quorum). */
  async finish(size: number, sha256: Buffer): Promise<string[]> {
    const ok: string[] = [];
    await Promise.all(this.live().map((u) => u.up.finish(size, sha256).then(() => { ok.push(u.id); }, (e) => this.fail(u, e))));
    if (ok.length < this.quorum) {
      await Promise.all(ok.map((id) => this.nodes.client(id).deleteBlob(this.versionId).catch(() => false)));
      this.checkQuorum(true);
    }
    return this.uploads.filter((u) => ok.includes(u.id)).map((u) => u.id);
  }

  abort(): void {
    for (const u of this.uploads) u.up.abort();
  }

  private fail(u: { id: string; failed?: unknown }, e: unknown): void {
    u.failed = e;
    if (e instanceof UnavailableError) this.nodes.suspect(u.id);
    this.log.warn({ node: u.id, version: this.versionId, err: e }, "replica upload failed");
  }

  private checkQuorum(final = false): void {
    const live = this.live().length;
    if (live >= this.quorum && !final) return;
    this.abort();
    const integrity = this.uploads.find((u) => u.failed instanceof IntegrityError)?.failed;
    if (integrity) throw integrity;
    const reason = this.uploads.map((u) => u.failed).find((e) => e instanceof MiniS3Error) as MiniS3Error | undefined;
    throw new UnavailableError(`only ${live} of ${this.uploads.length} replicas took the upload; the write quorum is ${this.quorum}` +
      (reason ? ` (${reason.message})` : ""));
  }
}
