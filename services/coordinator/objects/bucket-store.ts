// Buckets on the catalogue (the BucketEngine contract): create, head, list, delete when empty.
import { ErrorCode, MiniS3Error } from "../../common/errors";
import type { Catalogue } from "../catalogue/catalogue";
import type { BucketRow } from "../model/bucket-row";
import { checkBucket } from "./names";
import type { BucketEngine, BucketView } from "./object-engine";
import { fromCatalogue } from "./object-store";

const view = (r: BucketRow): BucketView => ({ name: r.name, createdAtMs: r.createdMs, owner: r.owner });

/**
 * How long a bucket seen to exist is taken to exist by an upload's check (requireBucket). That check
 * was one MariaDB round trip per S3 PutObject (its prepared-statement writes were ~2 % of the
 * coordinator's CPU under the S3 overwrite load). Taking it from a recent look changes no outcome
 * that could not happen before: the check was never atomic with the commit, which makes the
 * bucket's row itself (a delete from another coordinator between them always let the upload
 * through); this widens that window by at most this long. This coordinator's own deletes forget at once.
 */
const SEEN_MS = 1000;
const MAX_SEEN = 4096;

export class BucketStore implements BucketEngine {
  /** bucket -> until when (monotonic ms) it is taken to exist. */
  private readonly seen = new Map<string, number>();
  /**
   * bucket -> the lookup in flight that every upload's check joins while the bucket's memory has
   * lapsed: at 30 PUTs in flight each asked MariaDB itself when the second ran out (issue 16, coordhot).
   */
  private readonly looking = new Map<string, Promise<void>>();
  /** Counts deleteBucket calls: a lookup sent before one does not mark its bucket seen. */
  private deletes = 0;

  constructor(
    private readonly catalogue: Pick<Catalogue, "buckets" | "clock">,
    private readonly seenMs = SEEN_MS,
  ) {}

  async requireBucket(name: string): Promise<void> {
    const b = checkBucket(name);
    if ((this.seen.get(b) ?? 0) > performance.now()) return;
    let lookup = this.looking.get(b);
    if (!lookup) {
      const l = this.lookUp(b).finally(() => this.looking.get(b) === l && this.looking.delete(b));
      this.looking.set(b, (lookup = l));
    }
    return lookup;
  }

  /** One MariaDB lookup for `b`, shared by the checks made while it runs (an error fails them all, as each own lookup would have). */
  private async lookUp(b: string): Promise<void> {
    const deletes = this.deletes;
    await this.headBucket(b);
    if (deletes !== this.deletes) return; // a delete ran meanwhile: what the lookup saw may be gone
    if (this.seen.size >= MAX_SEEN) this.seen.clear();
    this.seen.set(b, performance.now() + this.seenMs);
  }

  async createBucket(name: string, owner: string): Promise<{ created: boolean; bucket: BucketView }> {
    const b = checkBucket(name);
    const created = await fromCatalogue(this.catalogue.clock.now().then((now) => this.catalogue.buckets.create(b, owner, now)));
    return { created, bucket: await this.headBucket(b) };
  }

  async headBucket(name: string): Promise<BucketView> {
    const b = checkBucket(name);
    const row = await fromCatalogue(this.catalogue.buckets.get(b));
    if (!row) throw new MiniS3Error(ErrorCode.NoSuchBucket, `the bucket ${b} does not exist`);
    return view(row);
  }

  async listBuckets(): Promise<BucketView[]> {
    return (await fromCatalogue(this.catalogue.buckets.list())).map(view);
  }

  async deleteBucket(name: string): Promise<void> {
    const b = checkBucket(name);
    this.forget(b);
    const outcome = await fromCatalogue(this.catalogue.buckets.deleteIfEmpty(b));
    this.forget(b); // an upload's check that ran meanwhile may have seen it
    if (outcome === "missing") throw new MiniS3Error(ErrorCode.NoSuchBucket, `the bucket ${b} does not exist`);
    if (outcome === "not-empty") throw new MiniS3Error(ErrorCode.BucketNotEmpty, `the bucket ${b} is not empty: delete its objects first`);
  }

  /** Uploads' checks from now on ask MariaDB, and lookups in flight mark nothing seen. */
  private forget(b: string): void {
    this.deletes++;
    this.seen.delete(b);
    this.looking.delete(b);
  }
}
