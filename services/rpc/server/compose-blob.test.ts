import { createHash, randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { DiskBackend } from "../../blobstore/disk-backend";
import { corruptBlobData } from "../../blobstore/testing/corrupt-blob-file";
import { IntegrityError, NotFoundError } from "../../common/errors";
import type { BlobBackend } from "../blob-backend";
import { CHECK_BLOCK } from "../block-checksums";
import { collect, silentLog, tempDir } from "../testing/test-helpers";
import { composeBlob, type ComposePart } from "./compose-blob";

// ComposeBlob's work on a storage node's real disk: a large part is a blob file, a small one a
// segment record; the composed blob is a file like any large upload's.

const CHUNK = 64 * 1024;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest();

let dir: { path: string; remove(): Promise<void> };
let disk: DiskBackend;

beforeAll(async () => {
  dir = await tempDir("compose-blob");
  disk = new DiskBackend({ dataDir: dir.path, chunkSize: CHUNK, log: silentLog, compactIntervalMs: 0 });
  await disk.open();
});
afterAll(async () => {
  await disk.close();
  await dir.remove();
});

/** Stores `data` as blob `id` the way uploads do (a file when larger than a chunk) and names it as a part. */
async function part(id: string, data: Buffer): Promise<ComposePart> {
  if (data.length <= CHUNK) await disk.putSmall(id, {}, data, sha256(data));
  else {
    const w = await disk.beginWrite(id, {});
    for (let at = 0; at < data.length; at += 100_000) await w.write(data.subarray(at, at + 100_000));
    await w.commit(data.length, sha256(data));
  }
  return { blobId: id, size: data.length, sha256: sha256(data) };
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

test("the new blob is the parts one after the other (files and segment records), with the sha256 the node computed", async () => {
  const data = [randomBytes(3 * CHUNK + 17), randomBytes(500), randomBytes(2 * 1024 * 1024 + 1)];
  const parts = [await part("p1-a", data[0]), await part("p1-b", data[1]), await part("p1-c", data[2])];
  const meta = await composeBlob(disk, "whole-1", { bucket: "b" }, parts);
  const whole = Buffer.concat(data);
  expect(meta).toMatchObject({ blobId: "whole-1", size: whole.length, attributes: { bucket: "b" } });
  expect(meta.sha256.equals(sha256(whole))).toBe(true);
  const read = await disk.read("whole-1", 0, undefined);
  expect((await collect(read.chunks)).equals(whole)).toBe(true);
  expect((await disk.verify("whole-1")).verdict).toBe("ok");
  // The parts are left as they were: the caller deletes them once the object is committed.
  for (const p of parts) expect((await disk.stat(p.blobId))?.size).toBe(p.size);
});

test("a part missing, named with another sha256 or size, or damaged on disk fails the compose and leaves nothing", async () => {
  const a = await part("p2-a", randomBytes(2 * CHUNK));
  const b = await part("p2-b", randomBytes(4 * CHUNK + 3));
  const cases: [string, ComposePart[], new (...args: never[]) => Error][] = [
    ["whole-2a", [a, { blobId: "p2-missing", size: 10, sha256: sha256(Buffer.alloc(10)) }], NotFoundError],
    ["whole-2b", [a, { ...b, sha256: sha256(Buffer.from("other")) }], IntegrityError],
    ["whole-2c", [{ ...a, size: a.size - 1 }, b], IntegrityError],
  ];
  for (const [id, parts, kind] of cases) {
    expect(await failure(composeBlob(disk, id, {}, parts))).toBeInstanceOf(kind);
    expect(await disk.stat(id)).toBeNull();
  }
  // A flipped byte in the second part's file: found by its block checksum before it is used.
  await corruptBlobData(`${dir.path}/blobs/${"p2-b".slice(-2).padStart(2, "_")}/p2-b`, 3 * CHUNK + 1);
  expect(await failure(composeBlob(disk, "whole-2d", {}, [a, b]))).toBeInstanceOf(IntegrityError);
  expect(await disk.stat("whole-2d")).toBeNull();
  // No temp file of an aborted compose is left in the file store's tmp/.
  expect(await readdir(`${dir.path}/tmp`)).toEqual([]);
});

test("parts cut at whole check blocks: the fold is the parts' stored tables, which must agree with the bytes they hand over", async () => {
  // A file part, a segment record (no table: its crc32s are taken as it is copied), a shorter last part.
  const data = [randomBytes(3 * CHECK_BLOCK), randomBytes(CHECK_BLOCK), randomBytes(2 * CHECK_BLOCK + 5)];
  const parts = [await part("p3-a", data[0]), await part("p3-b", data[1]), await part("p3-c", data[2])];
  const meta = await composeBlob(disk, "whole-3", {}, parts);
  const whole = Buffer.concat(data);
  expect(meta.sha256.equals(sha256(whole))).toBe(true);
  expect((await collect((await disk.read("whole-3", 0, undefined)).chunks)).equals(whole)).toBe(true);
  expect((await disk.verify("whole-3")).verdict).toBe("ok");

  // The first part's reader hands over its true bytes with a table that says otherwise: the writer's
  // crc32s of those bytes no longer fold to what the tables give, and nothing is committed.
  const readTampered: BlobBackend["read"] = async (id, offset, length, chunkBytes) => {
    const r = await disk.read(id, offset, length, chunkBytes);
    if (id !== "p3-a" || !r.blockTable) return r;
    const table = Buffer.from(r.blockTable);
    table[table.length - 1] ^= 1;
    return { ...r, blockTable: table };
  };
  const tampered = new Proxy(disk, {
    get: (target, key) => (key === "read" ? readTampered : (Reflect.get(target, key) as unknown)),
  }) as BlobBackend;
  expect(await failure(composeBlob(tampered, "whole-3b", {}, parts))).toBeInstanceOf(IntegrityError);
  expect(await disk.stat("whole-3b")).toBeNull();
  expect(await readdir(`${dir.path}/tmp`)).toEqual([]);
});
