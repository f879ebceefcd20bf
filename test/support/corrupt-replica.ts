import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { TestCluster } from "../../deploy/launcher/cluster";
import { corruptBlobData } from "../../services/blobstore/testing/corrupt-blob-file";
import { flipByte } from "../../services/rpc/testing/test-helpers";

// Bit rot on purpose: flips one byte of a replica's data in a node's data dir, behind the node's
// back (it keeps running), the way a failing disk would. Headers and indexes stay intact, so only a
// check of the bytes themselves can notice.

/** The file of a large blob on a storage node: <data dir>/<node>/blobs/<shard>/<version id>. */
export function blobFileOf(cluster: TestCluster, nodeId: string, versionId: string): string {
  return join(cluster.dataDir, nodeId, "blobs", versionId.slice(-2).padStart(2, "_"), versionId);
}

/**
 * Flips a byte of a large blob's data (`size` bytes), `at` bytes into it: past the file's header,
 * which stays right (it holds the sha256 the bytes should have), and before its block checksums.
 */
export async function corruptLargeReplica(
  cluster: TestCluster,
  nodeId: string,
  versionId: string,
  size: number,
  at: number,
): Promise<void> {
  if (at < 0 || at >= size) throw new Error(`byte ${at} is outside a blob of ${size} bytes`);
  await corruptBlobData(blobFileOf(cluster, nodeId, versionId), at);
}

/**
 * Flips a byte in the middle of a small blob's data in its segment record. The record's header,
 * with the sha256 the index keeps, stays intact. Finds the record by its blob id (segment-record.ts:
 * the id sits 60 bytes in, then the attributes, then the data).
 */
export async function corruptSmallReplica(cluster: TestCluster, nodeId: string, versionId: string): Promise<void> {
  const dir = join(cluster.dataDir, nodeId, "segments");
  const id = Buffer.from(versionId, "utf8");
  for (const name of await readdir(dir)) {
    const fd = await open(join(dir, name), "r");
    let file: Buffer;
    try {
      file = await fd.readFile();
    } finally {
      await fd.close();
    }
    const idAt = file.indexOf(id);
    if (idAt < 60) continue;
    const record = idAt - 60;
    if (file.readUInt8(record + 9) !== id.length) continue;
    const attrsLength = file.readUInt16BE(record + 10);
    const dataLength = file.readUInt32BE(record + 12);
    await flipByte(join(dir, name), idAt + id.length + attrsLength + Math.floor(dataLength / 2));
    return;
  }
  throw new Error(`no segment record of ${versionId} on ${nodeId}`);
}
