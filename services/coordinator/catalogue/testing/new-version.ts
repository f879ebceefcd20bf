import { newVersionId } from "../../../common/ids";
import type { NewVersion } from "../catalogue";

/** A version to commit in a catalogue test: a fresh id, placeholder digests, two replicas; `over` wins. */
export function newTestVersion(bucket: string, key: string, over: Partial<NewVersion> = {}): NewVersion {
  return {
    versionId: newVersionId(),
    bucket,
    key,
    size: key.length,
    sha256: "a".repeat(64),
    etag: "b".repeat(32),
    contentType: "text/plain",
    metadata: {},
    replicas: ["s1", "s2"],
    createdMs: Date.now(),
    ...over,
  };
}
