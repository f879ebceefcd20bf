import * as grpc from "@grpc/grpc-js";
import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import * as http from "node:http";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { DiskBackend } from "../blobstore/disk-backend";
import { corruptBlobData } from "../blobstore/testing/corrupt-blob-file";
import { ErrorCode, IntegrityError, NotFoundError } from "../common/errors";
import { BLOB_PATH, CODE_FIELD } from "./blob-plane";
import { BlockChecksums, CHECK_BLOCK } from "./block-checksums";
import { BlobHttpClient } from "./client/blob-http-client";
import { NodeClient } from "./client/node-client";
import { NODE_ID_HEADER } from "./node-identity";
import { bindServer, SERVER_OPTIONS, shutdownServer } from "../common/grpc";
import { createNodeService, startNodeServer, type RunningNodeServer } from "./server/node-server";
import { allocChunk } from "./wire/blob-stream-codec";
import { FastNodeService, FastNodeServiceClient } from "./wire/node-service-fast";
import { blobOf, collect, flipByte, silentLog, tempDir } from "./testing/test-helpers";

const CHUNK = 64 * 1024;

describe("node server + client over real gRPC", () => {
  let dir: { path: string; remove(): Promise<void> };
  let backend: DiskBackend;
  let server: RunningNodeServer;
  let client: NodeClient;
  /** Reads large blobs over ReadBlob, the blob plane's fallback. */
  let grpcOnly: NodeClient;

  beforeAll(async () => {
    dir = await tempDir("e2e");
    backend = new DiskBackend({ dataDir: dir.path, chunkSize: CHUNK, log: silentLog, compactIntervalMs: 0 });
    await backend.open();
    server = await startNodeServer(backend, "127.0.0.1", 0, { id: "n1", chunkSize: CHUNK, log: silentLog });
    client = new NodeClient("n1", `127.0.0.1:${server.port}`, { deadlineMs: 5000 });
    grpcOnly = new NodeClient("n1", `127.0.0.1:${server.port}`, { deadlineMs: 5000, blobPlane: false });
  });
  afterAll(async () => {
    client.close();
    grpcOnly.close();
    await server.stop(500);
    await backend.close();
    await dir.remove();
  });

  it("puts many small blobs concurrently and gets them back", async () => {
    const blobs = Array.from({ length: 400 }, (_, i) => ({ id: `s${i}`, ...blobOf(4096) }));
    const metas = await Promise.all(blobs.map((b) => client.putSmall(b.id, { i: b.id }, b.data, b.sha256)));
    expect(metas.every((m, i) => m.blobId === blobs[i].id && m.size === 4096 && m.sha256.equals(blobs[i].sha256))).toBe(true);
    const got = await Promise.all(blobs.map((b) => client.getSmall(b.id)));
    for (const [i, g] of got.entries()) {
      expect(g.data.equals(blobs[i].data)).toBe(true);
      expect(g.meta.attributes).toEqual({ i: blobs[i].id });
    }
    expect((await client.statBlob("s3"))!.size).toBe(4096);
    expect(client.inFlight).toBe(0);
  });

  it("refuses a small put whose sha256 is wrong", async () => {
    const b = blobOf(100);
    await expect(client.putSmall("wrong", {}, b.data, blobOf(1).sha256)).rejects.toBeInstanceOf(IntegrityError);
    expect(await client.statBlob("wrong")).toBeNull();
  });

  it("checks a small put sent with its crc32 by that crc32: bytes changed in transit, or a wrong crc32, are refused and leave nothing", async () => {
    const b = blobOf(4096);
    const altered = Buffer.from(b.data);
    altered[4000] ^= 0x10;
    // The coordinator took sha256 and crc32 of the bytes it got; these are not the bytes that arrived.
    await expect(client.putSmall("crc-altered", {}, altered, b.sha256, undefined, crc32(b.data))).rejects.toBeInstanceOf(IntegrityError);
    await expect(client.putSmall("crc-wrong", {}, b.data, b.sha256, undefined, (crc32(b.data) ^ 0x80000000) >>> 0)).rejects.toBeInstanceOf(
      IntegrityError,
    );
    for (const id of ["crc-altered", "crc-wrong"]) {
      expect(await client.statBlob(id)).toBeNull();
      expect(backend.segments.get(id)).toBeUndefined();
      await expect(client.getSmall(id)).rejects.toBeInstanceOf(NotFoundError);
    }

    const meta = await client.putSmall("crc-good", { k: "v" }, b.data, b.sha256, undefined, crc32(b.data));
    expect(meta.sha256.equals(b.sha256)).toBe(true);
    expect(meta.attributes).toEqual({ k: "v" }); // the sent ones: the node's answer leaves them out
    const got = await client.getSmall("crc-good");
    expect(got.data.equals(b.data)).toBe(true);
    expect(got.meta.attributes).toEqual({ k: "v" });
    expect(await client.verifyBlob("crc-good")).toBe("ok"); // the sender's sha256, kept, is the bytes'
  });

  it("writes and reads a large blob in chunks, whole and by range", async () => {
    const size = 5 * 1024 * 1024 + 12345;
    const b = blobOf(size);
    const up = client.writeBlob("large1", { kind: "big" });
    for (let at = 0; at < size; at += 200_000) await up.write(b.data.subarray(at, at + 200_000));
    const meta = await up.finish(size, b.sha256);
    expect(meta).toMatchObject({ blobId: "large1", size, attributes: { kind: "big" } });

    for (const reader of [client, grpcOnly]) {
      const whole = await reader.readBlob("large1");
      expect(whole).toMatchObject({ offset: 0, length: size, meta: { blobId: "large1", size, attributes: { kind: "big" } } });
      expect(whole.meta.sha256.equals(b.sha256)).toBe(true);
      let maxChunk = 0;
      const parts: Buffer[] = [];
      for await (const c of whole.chunks) {
        maxChunk = Math.max(maxChunk, c.length);
        parts.push(c);
      }
      expect(maxChunk).toBeLessThanOrEqual(CHUNK);
      expect(Buffer.concat(parts).equals(b.data)).toBe(true);

      const mid = await reader.readBlob("large1", 1_000_000, 300_000);
      expect(mid).toMatchObject({ offset: 1_000_000, length: 300_000 });
      expect((await collect(mid.chunks)).equals(b.data.subarray(1_000_000, 1_300_000))).toBe(true);
      const tail = await reader.readBlob("large1", size - 10);
      expect((await collect(tail.chunks)).equals(b.data.subarray(size - 10))).toBe(true);
      const past = await reader.readBlob("large1", size + 100, 10);
      expect(past.length).toBe(0);
      expect((await collect(past.chunks)).length).toBe(0);
    }
  });

  it("a whole read over the blob plane carries the fold of the copy's block crc32s (what a copy's target checks by); a range carries none", async () => {
    const size = 3 * 1024 * 1024 + 777;
    const b = blobOf(size);
    const up = client.writeBlob("fold1", {});
    for (let at = 0; at < size; at += 300_000) await up.write(b.data.subarray(at, at + 300_000));
    await up.finish(size, b.sha256);
    const expected = new BlockChecksums(crc32, CHECK_BLOCK);
    expected.update(b.data);

    const whole = await client.readBlob("fold1");
    expect(whole.blockCrc).toBe(expected.fold());
    await collect(whole.chunks);
    const range = await client.readBlob("fold1", CHECK_BLOCK, 2 * CHECK_BLOCK);
    expect(range.blockCrc).toBeUndefined();
    await collect(range.chunks);
    const overGrpc = await grpcOnly.readBlob("fold1"); // ReadBlob has no field for it: the targets hash instead
    expect(overGrpc.blockCrc).toBeUndefined();
    await collect(overGrpc.chunks);
  });

  it("a large read of a copy that rotted on disk ends in IntegrityError, never as a clean end of the bytes", async () => {
    const big = blobOf(8 * CHUNK + 321);
    const up = client.writeBlob("read-big-rot", {});
    await up.write(big.data);
    await up.finish(big.data.length, big.sha256);
    await corruptBlobData(join(dir.path, "blobs", "ot", "read-big-rot"), big.data.length - 100);
    for (const reader of [client, grpcOnly]) {
      const r = await reader.readBlob("read-big-rot");
      let got = 0;
      const failure = await (async () => {
        for await (const c of r.chunks) got += c.length;
      })().catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(IntegrityError);
      expect(got).toBeLessThan(big.data.length);
    }
  });

  it("cancels a read when the caller stops early", async () => {
    const b = blobOf(2 * 1024 * 1024);
    const up = client.writeBlob("large2", {});
    await up.write(b.data);
    await up.finish(b.data.length, b.sha256);
    const r = await client.readBlob("large2");
    let got = 0;
    for await (const c of r.chunks) {
      got += c.length;
      break;
    }
    expect(got).toBeGreaterThan(0);
    // The node still serves other calls normally.
    expect((await client.statBlob("large2"))!.size).toBe(b.data.length);
  });

  it("reports missing blobs as NotFoundError before the first byte", async () => {
    await expect(client.getSmall("nope")).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.readBlob("nope")).rejects.toBeInstanceOf(NotFoundError);
    await expect(grpcOnly.readBlob("nope")).rejects.toBeInstanceOf(NotFoundError);
    expect(await client.statBlob("nope")).toBeNull();
  });

  it("deletes idempotently, small and large", async () => {
    const b = blobOf(10);
    await client.putSmall("d1", {}, b.data, b.sha256);
    expect(await client.deleteBlob("d1")).toBe(true);
    expect(await client.deleteBlob("d1")).toBe(false);
    await expect(client.getSmall("d1")).rejects.toBeInstanceOf(NotFoundError);
    const big = blobOf(300_000);
    const up = client.writeBlob("d2", {});
    await up.write(big.data);
    await up.finish(big.data.length, big.sha256);
    // A large write's put is numbered at its commit, after this session last heard the node: its
    // delete is fenced once, and asked again as its caller (holding the blob's row lock) allows.
    const stillHeld = async () => undefined;
    expect(await client.deleteBlob("d2", undefined, stillHeld)).toBe(true);
    expect(await client.deleteBlob("d2", undefined, stillHeld)).toBe(false);
  });

  /** Waits until the node holds no upload in progress (its temp files), or fails. */
  async function noUploadInProgress(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if ((await readdir(join(dir.path, "tmp"))).length === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`uploads left in progress: ${(await readdir(join(dir.path, "tmp"))).join(", ")}`);
  }

  it("writes large blobs over the blob plane, not WriteBlob", async () => {
    const request = jest.spyOn(BlobHttpClient.prototype, "request");
    const writeBlob = jest.spyOn(FastNodeServiceClient.prototype, "writeBlob");
    try {
      const b = blobOf(3 * 1024 * 1024 + 3);
      const up = client.writeBlob("plane1", { via: "plane" });
      for (let at = 0; at < b.data.length; at += 256 * 1024) await up.write(b.data.subarray(at, at + 256 * 1024));
      expect(await up.finish(b.data.length, b.sha256)).toMatchObject({
        blobId: "plane1",
        size: b.data.length,
        attributes: { via: "plane" },
      });
      expect(request.mock.calls.map((c) => c[0])).toEqual(["PUT"]);
      expect(writeBlob).not.toHaveBeenCalled();
      expect((await collect((await grpcOnly.readBlob("plane1")).chunks)).equals(b.data)).toBe(true);
    } finally {
      request.mockRestore();
      writeBlob.mockRestore();
    }
  });

  // The replica writer refills a chunk (joinAsChunk's) once write() resolved (2026-12-02): a write
  // must not resolve while the chunk still waits in this process (a small one sat in the corked socket).
  it.each([
    ["plane", () => client],
    ["grpc", () => grpcOnly],
  ])("a chunk refilled as soon as write() resolved reaches the node as written (over %s)", async (via, writerOf) => {
    const b = blobOf(40 * 1000 + 7);
    const up = writerOf().writeBlob(`refill-${via}`, {});
    const chunk = allocChunk(1000);
    for (let at = 0; at < b.data.length; at += chunk.length) {
      const n = b.data.copy(chunk, 0, at, at + chunk.length);
      await up.write(n === chunk.length ? chunk : chunk.subarray(0, n));
      chunk.fill(0xee);
    }
    expect(await up.finish(b.data.length, b.sha256)).toMatchObject({ blobId: `refill-${via}`, size: b.data.length });
    expect((await collect((await client.readBlob(`refill-${via}`)).chunks)).equals(b.data)).toBe(true);
  });

  it.each([
    ["plane", () => client],
    ["grpc", () => grpcOnly],
  ])("leaves nothing after a mismatched upload (over %s)", async (via, writerOf) => {
    const writer = writerOf();
    const b = blobOf(500_000);
    const bad = writer.writeBlob(`ab2-${via}`, {});
    await bad.write(b.data);
    await expect(bad.finish(b.data.length, createHash("sha256").update("x").digest())).rejects.toBeInstanceOf(IntegrityError);
    const short = writer.writeBlob(`ab3-${via}`, {});
    await short.write(b.data);
    await expect(short.finish(b.data.length + 1, b.sha256)).rejects.toBeInstanceOf(IntegrityError);
    await noUploadInProgress();
    expect(await client.statBlob(`ab2-${via}`)).toBeNull();
    expect(await client.statBlob(`ab3-${via}`)).toBeNull();
  });

  it("leaves nothing after an aborted upload", async () => {
    const b = blobOf(500_000);
    const up = client.writeBlob("ab1", {});
    await up.write(b.data);
    up.abort();
    await noUploadInProgress();
    expect(await client.statBlob("ab1")).toBeNull();
  });

  it("a blob PUT cut before its trailer, or ended without one, commits nothing", async () => {
    const b = blobOf(2 * 1024 * 1024);
    const put = (finish: (req: http.ClientRequest) => void) =>
      new Promise<{ status?: number; code?: string; error?: string }>((resolve) => {
        const req = http.request({
          host: "127.0.0.1",
          port: server.port,
          method: "PUT",
          path: `${BLOB_PATH}cut1`,
          headers: { [NODE_ID_HEADER]: "n1" },
        });
        req.on("response", (res) => {
          res.resume();
          resolve({ status: res.statusCode, code: res.headers[CODE_FIELD] as string });
        });
        req.on("error", (e: NodeJS.ErrnoException) => resolve({ error: e.code }));
        finish(req);
      });
    // Half the body, then the connection cut: the node discards what it got.
    const cut = put((req) => req.write(b.data.subarray(0, 1024 * 1024), () => setTimeout(() => req.destroy(), 50)));
    expect((await cut).status).toBeUndefined();
    // The whole body but no size and sha256: refused, not committed as it came.
    expect(await put((req) => req.end(b.data))).toEqual({ status: 400, code: ErrorCode.InvalidArgument });
    await noUploadInProgress();
    expect(await client.statBlob("cut1")).toBeNull();
  });

  it("lists blobs and reports node info", async () => {
    const ids = new Set<string>();
    for await (const m of client.listBlobs()) ids.add(m.blobId);
    expect(ids.has("s0")).toBe(true);
    expect(ids.has("large1")).toBe(true);
    const info = await client.info();
    expect(info).toMatchObject({ id: "n1", kind: "storage" });
    expect(info.blobCount).toBe(ids.size);
    expect(info.freeBytes).toBeGreaterThan(0);
  });

  it("verifies content, not the header: a flipped byte in a large file or a segment record is corrupt", async () => {
    const big = blobOf(3 * CHUNK + 777);
    for (const id of ["v-big-ok", "v-big-rot", "v-head-rot"]) {
      const up = client.writeBlob(id, {});
      await up.write(big.data);
      await up.finish(big.data.length, big.sha256);
    }
    const small = blobOf(2000);
    await client.putSmall("v-small-ok", {}, small.data, small.sha256);
    await client.putSmall("v-small-rot", {}, small.data, small.sha256);

    // One byte past the header of a large file; one byte of a small blob's data in its segment.
    await corruptBlobData(join(dir.path, "blobs", "ot", "v-big-rot"), big.data.length - 5000);
    await flipByte(join(dir.path, "blobs", "ot", "v-head-rot"), 2); // the magic
    const entry = backend.segments.get("v-small-rot")!;
    await flipByte(entry.segment.path, entry.dataStart + 1000);

    expect(await client.verifyBlob("v-big-ok")).toBe("ok");
    expect(await client.verifyBlob("v-small-ok")).toBe("ok");
    // stat still answers from the header and the index, as if nothing were wrong.
    expect((await client.statBlob("v-big-rot"))!.sha256.equals(big.sha256)).toBe(true);
    expect((await client.statBlob("v-small-rot"))!.sha256.equals(small.sha256)).toBe(true);
    expect(await client.verifyBlob("v-big-rot")).toBe("corrupt");
    expect(await client.verifyBlob("v-small-rot")).toBe("corrupt");
    expect(await client.verifyBlob("v-head-rot")).toBe("corrupt");
    expect(await client.verifyBlob("v-nope")).toBe("missing");
    const checked = await client.checkBlob("v-big-ok");
    expect(checked.meta?.sha256.equals(big.sha256)).toBe(true);
  });

  it("verify hashes a large file whole: one whose stored sha256 no longer matches its bytes is corrupt, though every block passes its crc32", async () => {
    // A read checks the blocks only (file-store.ts fileChunks); verify (the scrubber) must still see this.
    const big = blobOf(3 * CHUNK + 777);
    const up = client.writeBlob("v-sha-rot", {});
    await up.write(big.data);
    await up.finish(big.data.length, big.sha256);
    await flipByte(join(dir.path, "blobs", "ot", "v-sha-rot"), 28 + 5); // in the header's sha256 (blob-file-format.ts)
    expect(await client.verifyBlob("v-sha-rot")).toBe("corrupt");
  });

  it("checks a copy of an expected small size with one whole read on the Exchange stream, not a VerifyBlob call", async () => {
    const small = blobOf(4096);
    await client.putSmall("c-ok", {}, small.data, small.sha256);
    await client.putSmall("c-rot", {}, small.data, small.sha256);
    const entry = backend.segments.get("c-rot")!;
    await flipByte(entry.segment.path, entry.dataStart + 100);
    const verify = jest.spyOn(backend, "verify");
    const read = jest.spyOn(backend, "read");
    try {
      const ok = await client.checkBlob("c-ok", 4096);
      expect(ok.verdict).toBe("ok");
      expect(ok.meta?.sha256.equals(small.sha256)).toBe(true);
      expect(await client.checkBlob("c-rot", 4096)).toMatchObject({ verdict: "corrupt", problem: expect.stringContaining("c-rot") });
      expect(await client.checkBlob("c-nope", 4096)).toEqual({ verdict: "missing" });
      // Each copy read once, whole; the unary call (a stat and a VerifyBlob) is not made.
      expect(read.mock.calls).toEqual([
        ["c-ok", 0, undefined],
        ["c-rot", 0, undefined],
        ["c-nope", 0, undefined],
      ]);
      expect(verify).not.toHaveBeenCalled();
      // A copy larger than the catalogue says is still read whole and judged by its meta.
      const big = blobOf(CHUNK + 1);
      await client.putSmall("c-bigger", {}, big.data, big.sha256);
      expect((await client.checkBlob("c-bigger", 10)).meta?.size).toBe(CHUNK + 1);
    } finally {
      verify.mockRestore();
      read.mockRestore();
    }
  });

  it("reads a large blob over ReadBlob from a node that serves only gRPC on its port (an older node)", async () => {
    const older = new grpc.Server(SERVER_OPTIONS);
    older.addService(FastNodeService, createNodeService(backend, { id: "n1", chunkSize: CHUNK, log: silentLog }));
    const port = await bindServer(older, "127.0.0.1", 0);
    const reader = new NodeClient("n1", `127.0.0.1:${port}`, { deadlineMs: 5000 });
    try {
      const r = await reader.readBlob("large2", 100, 1_000_000);
      expect(r).toMatchObject({ offset: 100, length: 1_000_000 });
      expect((await collect(r.chunks)).length).toBe(1_000_000);
      await expect(reader.readBlob("nope")).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      reader.close();
      await shutdownServer(older, 500);
    }
  });

  it("writes a large blob over WriteBlob to a node that serves only gRPC on its port (an older node)", async () => {
    const older = new grpc.Server(SERVER_OPTIONS);
    older.addService(FastNodeService, createNodeService(backend, { id: "n1", chunkSize: CHUNK, log: silentLog }));
    const port = await bindServer(older, "127.0.0.1", 0);
    const writer = new NodeClient("n1", `127.0.0.1:${port}`, { deadlineMs: 5000 });
    try {
      const b = blobOf(1_000_003);
      const up = writer.writeBlob("older-w", { to: "older" });
      await up.write(b.data.subarray(0, 500_000));
      await up.write(b.data.subarray(500_000));
      expect(await up.finish(b.data.length, b.sha256)).toMatchObject({
        blobId: "older-w",
        size: b.data.length,
        attributes: { to: "older" },
      });
      expect((await collect((await client.readBlob("older-w")).chunks)).equals(b.data)).toBe(true);
    } finally {
      writer.close();
      await shutdownServer(older, 500);
    }
  });

  it("fails pending ops with NodeUnavailable when the node goes away, and reconnects after", async () => {
    const port = server.port;
    await server.stop(0);
    const b = blobOf(100);
    await expect(client.putSmall("r1", {}, b.data, b.sha256)).rejects.toMatchObject({ code: ErrorCode.NodeUnavailable });
    await expect(client.readBlob("large1")).rejects.toMatchObject({ code: ErrorCode.NodeUnavailable });
    server = await startNodeServer(backend, "127.0.0.1", port, { id: "n1", chunkSize: CHUNK, log: silentLog });
    // The channel backs off after a failure: retry for a while.
    let meta;
    for (let i = 0; i < 50 && !meta; i++) {
      meta = await client.putSmall("r1", {}, b.data, b.sha256).catch(() => undefined);
      if (!meta) await new Promise((r) => setTimeout(r, 100));
    }
    expect(meta?.size).toBe(100);
  });
});
