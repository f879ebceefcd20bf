import { createHash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import { ErrorCode } from "../../common/errors";
import { BlockChecksums, CHECK_BLOCK } from "../../rpc/block-checksums";
import { digestOf, DigestThread } from "./upload-digest";

const expected = (data: Buffer) => ({
  sha256: createHash("sha256").update(data).digest("hex"),
  etag: createHash("md5").update(data).digest("hex"),
});

async function hashInPieces(thread: DigestThread, data: Buffer, piece: number) {
  const s = thread.start();
  for (let at = 0; at < data.length; at += piece) await s.update(data.subarray(at, at + piece));
  const d = await s.finish();
  return { sha256: d.sha256.toString("hex"), etag: d.etag };
}

describe("upload digests", () => {
  const thread = new DigestThread();
  afterAll(() => thread.close());

  test("the thread's sha256 and md5 match node's for any chunking, including chunks larger than a slot", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    for (const piece of [1, 4096, 256 * 1024, 700 * 1024, data.length]) {
      if (piece === 1) {
        // byte by byte on a small prefix only: it is the order that is tested
        const head = data.subarray(0, 5000);
        expect(await hashInPieces(thread, head, 1)).toEqual(expected(head));
        continue;
      }
      expect(await hashInPieces(thread, data, piece)).toEqual(expected(data));
    }
  });

  // (issue 16, wirecrc) The replicas check a large upload by this fold: the node cuts its blocks at
  // body offsets whatever the socket reads, so the sender's must not depend on its chunks either.
  test("the fold of the block crc32s is the same for any chunking, and the node's (the crc32 of its table)", async () => {
    const data = randomBytes(5 * CHECK_BLOCK * 7 + 1234); // not a whole number of blocks
    const fold = async (piece: number) => {
      const s = thread.start();
      for (let at = 0; at < data.length; at += piece) await s.update(data.subarray(at, at + piece));
      return (await s.finish()).blockCrc;
    };
    const node = new BlockChecksums(crc32, CHECK_BLOCK);
    node.update(data);
    const table = node.table();
    expect(table.length).toBe(Math.ceil(data.length / CHECK_BLOCK) * 4);
    const expected = crc32(table);
    for (const piece of [1024 * 1024, 700 * 1024 + 13, 4096 + 1, CHECK_BLOCK - 1, data.length]) expect(await fold(piece)).toBe(expected);
    data[CHECK_BLOCK * 3 + 5] ^= 1;
    expect(await fold(1024 * 1024)).not.toBe(expected);
  });

  test("an empty upload and the inline digest agree with node's", async () => {
    expect(await hashInPieces(thread, Buffer.alloc(0), 1)).toEqual(expected(Buffer.alloc(0)));
    for (const size of [0, 1, 4096, 65_537, 1024 * 1024]) {
      const small = randomBytes(size);
      const d = digestOf(small);
      expect(Buffer.isBuffer(d.sha256)).toBe(true); // written to the wire and compared as bytes
      expect({ sha256: d.sha256.toString("hex"), etag: d.etag }).toEqual(expected(small));
      expect(d.crc32).toBe(crc32(small)); // what the replicas check the bytes by (SegmentStore.put)
    }
  });

  test("concurrent uploads keep their own digests, and a cancelled one does not disturb the others", async () => {
    const bodies = [randomBytes(5 * 1024 * 1024), randomBytes(2 * 1024 * 1024 + 3), randomBytes(1024 * 1024)];
    const cancelled = thread.start();
    await cancelled.update(randomBytes(600 * 1024));
    const results = Promise.all(bodies.map((b, i) => hashInPieces(thread, b, [64 * 1024, 256 * 1024, 1000][i])));
    cancelled.cancel();
    expect(await results).toEqual(bodies.map(expected));
  });

  test("a chunk may be reused as soon as update() resolved: the bytes hashed are the ones given", async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const scratch = Buffer.alloc(256 * 1024);
    const s = thread.start();
    for (let at = 0; at < data.length; at += scratch.length) {
      data.copy(scratch, 0, at, at + scratch.length);
      await s.update(scratch);
      scratch.fill(0xee); // what a reused buffer would hold next
    }
    const d = await s.finish();
    expect({ sha256: d.sha256.toString("hex"), etag: d.etag }).toEqual(expected(data));
  });

  test("the thread runs in a small heap: a 1 MiB young generation (V8's default for a worker is 48 MiB)", async () => {
    const data = randomBytes(600 * 1024);
    expect(await hashInPieces(thread, data, 256 * 1024)).toEqual(expected(data));
    expect(thread.threadLimits).toMatchObject({ maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16, stackSizeMb: 1 });
  });

  test("uploads being hashed when the thread dies fail as unavailable, and the next upload gets a new thread", async () => {
    const own = new DigestThread();
    const s = own.start();
    await s.update(randomBytes(1000));
    await own.close(); // the thread exits under the session
    await expect(s.finish()).rejects.toMatchObject({ code: ErrorCode.DigestFailed });
    const data = randomBytes(300_000);
    expect(await hashInPieces(own, data, 100_000)).toEqual(expected(data));
    await own.close();
  });
});
