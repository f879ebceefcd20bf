// Buckets on the catalogue (the BucketEngine contract): create, head, list, delete when empty.
import { ErrorCode, MiniS3Error } from "../../common/errors";
import type { Catalogue } from "../catalogue/catalogue";
import type { BucketRow } from "../model/bucket-row";
import { checkBucket } from "./names";
import type { BucketEngine, BucketView } from "./object-engine";
import { fromCatalogue } from "./object-store";

const view = (r: BucketRow): BucketView => ({ name: r.name, createdAtMs: r.createdMs, owner: r.owner });

export class BucketStore implements BucketEngine {
  constructor(private readonly catalogue: Pick<Catalogue, "buckets" | "clock">) {}

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
    const outcome = await fromCatalogue(this.catalogue.buckets.deleteIfEmpty(b));
    if (outcome === "missing") throw new MiniS3Error(ErrorCode.NoSuchBucket, `the bucket ${b} does not exist`);
    if (outcome === "not-empty") throw new MiniS3Error(ErrorCode.BucketNotEmpty, `the bucket ${b} is not empty: delete its objects first`);
  }
}
