import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import { AbortedError } from "../../common/errors";
import { bindServer, SERVER_OPTIONS, shutdownServer } from "../../common/grpc";
import { addObjectServices, MAX_CHUNK_BYTES } from "./object-grpc-service";
import { MemoryObjectEngine } from "./testing/memory-engine";
import { getClusterStatus, removeNode, TestObjectClient, type ClientFlavour } from "./testing/grpc-clients";

const MAX = 4 * 1024 * 1024;

let engine: MemoryObjectEngine;
let server: grpc.Server;
let address: string;

beforeEach(async () => {
  // Reads come out in 3 MiB pieces so the service has to split them into ≤ 1 MiB messages.
  engine = new MemoryObjectEngine({ maxObjectSize: MAX, readChunkSize: 3 * 1024 * 1024 });
  server = new grpc.Server(SERVER_OPTIONS);
  addObjectServices(server, engine, engine);
  address = `127.0.0.1:${await bindServer(server, "127.0.0.1", 0)}`;
});

afterEach(async () => {
  await shutdownServer(server, 500);
});

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function codeOf(p: Promise<unknown>): Promise<grpc.status> {
  try {
    await p;
  } catch (e) {
    return (e as grpc.ServiceError).code;
  }
  throw new Error("expected the call to fail");
}

describe.each<ClientFlavour>(["generated", "proto-loader"])("ObjectService with the %s client", (flavour) => {
  let client: TestObjectClient;
  beforeEach(() => {
    client = TestObjectClient.create(flavour, address);
  });
  afterEach(() => client.close());

  test("put in chunks, then head and get it back", async () => {
    const parts = [Buffer.from("hello "), Buffer.from("grpc "), Buffer.from("world")];
    const whole = Buffer.concat(parts);
    const put = await client.put(
      { key: "dir/ünï 🙂", contentType: "text/plain", contentLength: whole.length, metadata: { owner: "ada" } },
      parts,
    );
    expect(put).toMatchObject({
      bucket: "default",
      key: "dir/ünï 🙂",
      size: whole.length,
      sha256: sha256(whole),
      contentType: "text/plain",
      tier: "hot",
      metadata: { owner: "ada" },
    });
    expect(await client.head("", "dir/ünï 🙂")).toMatchObject({ versionId: put.versionId, size: whole.length });

    const got = await client.get({ key: "dir/ünï 🙂" });
    expect(got.data).toEqual(whole);
    expect(got.info).toMatchObject({ offset: 0, length: whole.length, servedFrom: "hot" });
    expect(got.info.object).toMatchObject({ versionId: put.versionId, sha256: sha256(whole) });
  });

  test("a header with no chunks makes an empty object", async () => {
    const put = await client.put({ key: "empty" }, []);
    expect(put).toMatchObject({ size: 0, contentType: "application/octet-stream" });
    expect((await client.get({ key: "empty" })).data.length).toBe(0);
  });

  test("get with a range", async () => {
    await client.put({ key: "abc" }, [Buffer.from("0123456789")]);
    const mid = await client.get({ key: "abc", offset: 3, length: 4 });
    expect(mid.data.toString()).toBe("3456");
    expect(mid.info).toMatchObject({ offset: 3, length: 4 });
    expect((await client.get({ key: "abc", offset: 7 })).data.toString()).toBe("789");
    expect((await client.get({ key: "abc", offset: 0, length: 2 })).data.toString()).toBe("01");
    expect(await codeOf(client.get({ key: "abc", offset: 11 }))).toBe(grpc.status.OUT_OF_RANGE);
  });

  test("a large object comes back in chunks of at most 1 MiB", async () => {
    const big = Buffer.alloc(2.5 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) % 256;
    await client.put({ key: "big" }, [big.subarray(0, 1 << 20), big.subarray(1 << 20)]);
    const got = await client.get({ key: "big" });
    expect(got.data.equals(big)).toBe(true);
    expect(Math.max(...got.chunkSizes)).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
    expect(got.chunkSizes.length).toBeGreaterThanOrEqual(3);
  });

  test("unknown keys are NOT_FOUND", async () => {
    expect(await codeOf(client.head("default", "nope"))).toBe(grpc.status.NOT_FOUND);
    expect(await codeOf(client.get({ key: "nope" }))).toBe(grpc.status.NOT_FOUND);
    expect(await codeOf(client.delete("default", "nope"))).toBe(grpc.status.NOT_FOUND);
  });

  test("bad names and malformed streams are INVALID_ARGUMENT, and nothing is stored", async () => {
    expect(await codeOf(client.head("default", ""))).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await codeOf(client.head("Bad_Bucket", "k"))).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await codeOf(client.put({ key: "" }, [Buffer.from("x")]))).toBe(grpc.status.INVALID_ARGUMENT);
    // A chunk before any header.
    expect(await codeOf(client.putRaw([client.chunkMessage(Buffer.from("x"))]))).toBe(grpc.status.INVALID_ARGUMENT);
    // An empty stream.
    expect(await codeOf(client.putRaw([]))).toBe(grpc.status.INVALID_ARGUMENT);
    // Declared length not met.
    expect(await codeOf(client.put({ key: "short", contentLength: 10 }, [Buffer.from("abc")]))).toBe(grpc.status.INVALID_ARGUMENT);
    expect(engine.objects.size).toBe(0);
  });

  test("digests in the header or the trailer are checked: a body that does not match them stores nothing", async () => {
    const parts = [Buffer.from("checked "), Buffer.from("bytes")];
    const whole = Buffer.concat(parts);
    const md5 = createHash("md5").update(whole).digest("hex");
    const other = sha256(Buffer.from("other bytes"));

    // Right digests, by header and by trailer (upper-case hex is the same digest).
    const byHeader = await client.put({ key: "h", sha256: sha256(whole), md5 }, parts);
    expect(byHeader).toMatchObject({ size: whole.length, sha256: sha256(whole), etag: md5 });
    const byTrailer = await client.put({ key: "t", trailerFollows: true }, parts, { sha256: sha256(whole).toUpperCase(), md5 });
    expect(byTrailer).toMatchObject({ sha256: sha256(whole) });

    // Wrong ones: INVALID_ARGUMENT, and the key keeps what it had (here, nothing).
    expect(await codeOf(client.put({ key: "bad-h", sha256: other }, parts))).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await codeOf(client.put({ key: "bad-t" }, parts, { sha256: other }))).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await codeOf(client.put({ key: "bad-md5" }, parts, { md5: createHash("md5").update("x").digest("hex") }))).toBe(
      grpc.status.INVALID_ARGUMENT,
    );
    // A body cut short (the last chunk lost) is caught by the trailer's digest.
    expect(await codeOf(client.put({ key: "cut" }, parts.slice(0, 1), { sha256: sha256(whole) }))).toBe(grpc.status.INVALID_ARGUMENT);
    // Malformed or contradicting digests, and anything after the trailer.
    expect(await codeOf(client.put({ key: "bad-hex", sha256: "xyz" }, parts))).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await codeOf(client.put({ key: "two", sha256: sha256(whole) }, parts, { sha256: other }))).toBe(grpc.status.INVALID_ARGUMENT);
    // A header that promised a trailer, and a stream that ended without it.
    expect(await codeOf(client.put({ key: "promised", trailerFollows: true }, parts))).toBe(grpc.status.INVALID_ARGUMENT);
    const put = client.openPut({ key: "after" });
    await put.write(parts[0]);
    put.trailer({ sha256: sha256(parts[0]) });
    await put.write(parts[1]);
    expect(await codeOf(put.finish())).toBe(grpc.status.INVALID_ARGUMENT);
    expect([...engine.objects.values()].map((o) => o.view.key).sort()).toEqual(["h", "t"]);
  });

  test("an object over the engine's limit gets RESOURCE_EXHAUSTED", async () => {
    const chunk = Buffer.alloc(1024 * 1024);
    expect(await codeOf(client.put({ key: "huge" }, [chunk, chunk, chunk, chunk, chunk]))).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(engine.objects.size).toBe(0);
  });

  test("cancel mid-upload while the engine is still pulling: the body throws and nothing is committed", async () => {
    engine.beforeEachPutChunk = () => new Promise((r) => setTimeout(r, 20)); // the upload backs up
    const put = client.openPut({ key: "cancelled" });
    for (let i = 0; i < 8; i++) await put.write(Buffer.alloc(64 * 1024, i));
    await waitFor(() => engine.bytesReceived >= 64 * 1024, "the engine to receive the first chunk");
    put.cancel();
    expect(await codeOf(put.result)).toBe(grpc.status.CANCELLED);
    await waitFor(() => engine.putErrors.length === 1, "the engine to see the cancel");
    expect(engine.putErrors[0]).toBeInstanceOf(AbortedError);
    expect(engine.objects.size).toBe(0);
  });

  test("cancel of an upload with a declared length never commits, however the cancel arrives", async () => {
    // Node's http2 client half-closes before its RST_STREAM, so a cancel can look like a short
    // but complete stream: the declared length is what catches that case.
    const put = client.openPut({ key: "declared", contentLength: 1024 * 1024 });
    await put.write(Buffer.alloc(64 * 1024, 1));
    await waitFor(() => engine.bytesReceived >= 64 * 1024, "the engine to receive the first chunk");
    put.cancel();
    expect(await codeOf(put.result)).toBe(grpc.status.CANCELLED);
    await waitFor(() => engine.putErrors.length === 1, "the engine to fail the upload");
    expect(engine.objects.size).toBe(0);
  });

  test("cancel mid-download stops the engine's read", async () => {
    await client.put({ key: "slow" }, [Buffer.alloc(3 * 1024 * 1024, 2)]);
    engine.readChunkSize = 64 * 1024; // 48 chunks, 5 ms each: the read is still open when we cancel
    let chunksServed = 0;
    engine.beforeEachReadChunk = async () => {
      chunksServed++;
      await new Promise((r) => setTimeout(r, 5));
    };
    await client.getThenCancel({ key: "slow" });
    await waitFor(() => engine.cancelledReads === 1 && engine.openReads === 0, "the read to be cancelled");
    expect(chunksServed).toBeLessThan(48);
  });

  test("delete, list, trash and undelete", async () => {
    for (const k of ["p/1", "p/2", "q/1"]) await client.put({ key: k }, [Buffer.from(k)]);
    const page1 = await client.list({ prefix: "p/", limit: 1 });
    expect(page1.objects.map((o) => o.key)).toEqual(["p/1"]);
    const page2 = await client.list({ prefix: "p/", limit: 1, cursor: page1.nextCursor });
    expect(page2.objects.map((o) => o.key)).toEqual(["p/2"]);
    expect(page2.nextCursor).toBe("");

    const del = await client.delete("", "p/1");
    expect(del).toMatchObject({ bucket: "default", key: "p/1" });
    expect(del.purgeAtMs).toBeGreaterThan(Date.now());
    expect(await codeOf(client.head("default", "p/1"))).toBe(grpc.status.NOT_FOUND);

    const trash = await client.listTrash({ prefix: "p/" });
    expect(trash.entries).toHaveLength(1);
    expect(trash.entries[0]).toMatchObject({ reason: "deleted", object: { key: "p/1", versionId: del.versionId } });

    expect(await client.undelete("default", "p/1")).toMatchObject({ key: "p/1", versionId: del.versionId });
    expect((await client.get({ key: "p/1" })).data.toString()).toBe("p/1");
  });
});

test("AdminService.GetStatus returns the engine's cluster status", async () => {
  const status = await getClusterStatus(address);
  expect(status.nodes[0]).toMatchObject({ id: "mem-1", kind: "storage", live: true, state: "up", zone: "local" });
  expect(status.tiers[0]).toMatchObject({ tier: "hot", objects: 0 });
  expect(status.queues[0]).toMatchObject({ name: "lifecycle" });
  expect(status.coordinators).toEqual([expect.objectContaining({ id: "memory", self: true, state: "up", pid: process.pid })]);
  expect(status.readCache).toEqual({ enabled: false, rows: 0 });
});

test("AdminService.RemoveNode: an unknown node is NOT_FOUND, one the cluster cannot spare FAILED_PRECONDITION", async () => {
  await expect(removeNode(address, "nope")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  await expect(removeNode(address, "mem-1")).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
  await expect(removeNode(address, "")).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
});

test("an internal error is logged with its cause; a caller's error (not found) is not", async () => {
  const lines: string[] = [];
  const logger = pino(
    { level: "info" },
    {
      write: (line: string) => {
        lines.push(line);
      },
    },
  );
  const logged = new grpc.Server(SERVER_OPTIONS);
  addObjectServices(logged, engine, engine, logger);
  const client = TestObjectClient.create("generated", `127.0.0.1:${await bindServer(logged, "127.0.0.1", 0)}`);
  try {
    expect(await codeOf(client.head("default", "nope"))).toBe(grpc.status.NOT_FOUND);
    expect(lines).toEqual([]);
    engine.head = async () => {
      throw new Error("disk on fire");
    };
    expect(await codeOf(client.head("default", "k"))).toBe(grpc.status.INTERNAL);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 50, msg: "gRPC call failed", err: { message: "disk on fire" } });
  } finally {
    client.close();
    await shutdownServer(logged, 500);
  }
});
