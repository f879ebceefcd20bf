// S3's bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation.
import { mayUseBucket } from "../../../auth/keys";
import { ErrorCode, hasCode } from "../../../common/errors";
import type { S3Deps, S3Request, S3Router } from "./router";
import { S3Error, s3Errors } from "./s3-errors";
import { parseXml, readXmlBody, s3Document } from "./xml";

/**
 * S3's bucket naming rules (general purpose buckets): 3-63 characters of lowercase letters, digits,
 * '.' and '-', starting and ending with a letter or digit, no "..", not an IP address, not the
 * reserved prefixes and suffixes. Virtual-host addressing needs every one of them to be a DNS label.
 */
export function checkNewBucketName(name: string): string {
  const bad = (why: string) => s3Errors.invalidBucketName(name, why);
  if (name.length < 3 || name.length > 63) throw bad("a bucket name has 3 to 63 characters");
  if (!/^[a-z0-9.-]+$/.test(name)) throw bad("only lowercase letters, digits, '.' and '-'");
  if (!/^[a-z0-9].*[a-z0-9]$/.test(name)) throw bad("it must begin and end with a letter or digit");
  if (name.includes("..") || name.includes(".-") || name.includes("-."))
    throw bad("no two adjacent periods, nor a period next to a hyphen");
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) throw bad("it must not look like an IP address");
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name) || /(-s3alias|--ol-s3|--x-s3|\.mrap)$/.test(name))
    throw bad("that prefix or suffix is reserved");
  return name;
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

export function registerBucketOps(router: S3Router, deps: S3Deps): void {
  const { buckets } = deps;

  router.register({ name: "ListBuckets", method: "GET", target: "service" }, async (req) => {
    const all = (await buckets.listBuckets()).filter((b) => mayUseBucket(req.identity, b.name));
    return {
      body: s3Document("ListAllMyBucketsResult", {
        Owner: { ID: req.identity.user, DisplayName: req.identity.user },
        Buckets: { Bucket: all.map((b) => ({ Name: b.name, CreationDate: isoDate(b.createdAtMs) })) },
      }),
    };
  });

  router.register({ name: "CreateBucket", method: "PUT", target: "bucket" }, async (req) => {
    const name = checkNewBucketName(req.bucket!);
    await checkLocationConstraint(req, deps.region);
    const { created } = await buckets.createBucket(name, req.identity.user);
    if (!created) {
      // Anyone who may use the bucket (the grant was checked before dispatch) owns it, as S3 sees it.
      throw new S3Error(
        "BucketAlreadyOwnedByYou",
        409,
        "your previous request to create the named bucket succeeded and you already own it",
      );
    }
    return { headers: { location: `/${name}` } };
  });

  router.register({ name: "HeadBucket", method: "HEAD", target: "bucket" }, async (req) => {
    await buckets.headBucket(req.bucket!);
    return { headers: { "x-amz-bucket-region": deps.region } };
  });

  router.register({ name: "DeleteBucket", method: "DELETE", target: "bucket" }, async (req) => {
    await buckets.deleteBucket(req.bucket!);
    return { status: 204 };
  });

  router.register({ name: "GetBucketLocation", method: "GET", target: "bucket", subresource: "location" }, async (req) => {
    await buckets.headBucket(req.bucket!);
    // S3 answers an empty constraint for us-east-1 (its oldest region), and clients expect that.
    const region = deps.region === "us-east-1" ? "" : deps.region;
    return { body: s3Document("LocationConstraint", { "#text": region }) };
  });
}

/** A CreateBucket body may name a region: it must be ours (or none). */
async function checkLocationConstraint(req: S3Request, region: string): Promise<void> {
  const text = (await readXmlBody(req.body())).trim();
  if (text === "") return;
  const config = parseXml(text, "CreateBucketConfiguration");
  const asked = config.LocationConstraint;
  if (asked !== undefined && asked !== "" && asked !== region) {
    throw new S3Error(
      "InvalidLocationConstraint",
      400,
      `the specified location-constraint ${String(asked)} is not valid: this endpoint is ${region}`,
    );
  }
}

/**
 * NoSuchBucket when the bucket does not exist, else the error as it was: S3 tells a missing bucket
 * from a missing key. Called only on the miss path, so found objects cost no bucket lookup.
 */
export async function bucketMissing(deps: S3Deps, bucket: string, e: unknown): Promise<unknown> {
  if (!hasCode(e, ErrorCode.NoSuchKey)) return e;
  try {
    await deps.buckets.headBucket(bucket);
    return e;
  } catch (bucketError) {
    return hasCode(bucketError, ErrorCode.NoSuchBucket) ? bucketError : e;
  }
}
