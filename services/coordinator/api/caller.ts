// What a caller of the facade or the gRPC API may do, once its credentials are checked: the buckets
// its key is granted (auth/keys.ts checkBucketAccess), and the operator calls (status, node removal)
// only with a key allowed every bucket.
import { checkBucketAccess, type Identity } from "../../auth/keys";
import { ErrorCode, MiniS3Error } from "../../common/errors";
import { checkBucket } from "../objects/names";

/** What a call may do, once its credentials are checked. */
export interface Caller {
  /** The bucket name checked, and allowed to this caller (else AccessDenied). */
  bucket(name: string | undefined): string;
  /** Throws AccessDenied unless the caller may administer the cluster. */
  admin(): void;
}

export const ANYONE: Caller = { bucket: checkBucket, admin: () => undefined };

/** Checks that keys given an admin call; shared by the facade (its /status and node routes). */
export function checkAdmin(identity: Identity): void {
  if (identity.buckets !== "*") {
    throw new MiniS3Error(
      ErrorCode.AccessDenied,
      `user ${identity.user} may not administer the cluster: that takes a key allowed every bucket`,
    );
  }
}

export function callerOfIdentity(identity: Identity): Caller {
  return {
    bucket: (name) => {
      const bucket = checkBucket(name);
      checkBucketAccess(identity, bucket);
      return bucket;
    },
    admin: () => checkAdmin(identity),
  };
}
