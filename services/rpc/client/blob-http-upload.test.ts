import { readdir } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { DiskBackend } from "../../blobstore/disk-backend";
import { IntegrityError } from "../../common/errors";
import { BlockChecksums, CHECK_BLOCK } from "../block-checksums";
import { startNodeServer, type RunningNodeServer } from "../server/node-server";
import { blobOf, collect, sha256, silentLog, tempDir } from "../testing/test-helpers";
import type { WireCheck } from "../blob-backend";
import { NodeClient } from "./node-client";

// A large upload's replica checks the bytes it got by the fold of their block crc32s when the PUT's
// header says so (issue 16, "wirecrc"), and by their sha256 otherwise.

const MIB = 1024 * 1024;

/** The fold a sender computes over `data` (the digest thread's, here on the test's thread). */
function foldOf(data: Buffer): number {
  const blocks = new BlockChecksums(crc32, CHECK_BLOCK);
  blocks.update(data);
  return blocks.fold();
}

/**
 * A TCP proxy in front of the node that flips one bit of the `at`-th byte a blob-plane PUT sends
 * (counting from the request's first byte): bytes corrupted in transit, past TCP's own checksum.
 */
async function flippingProxy(nodePort: number, at: number): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const node = connect(nodePort, "127.0.0.1");
    sockets.add(client).add(node);
    let seen = 0;
    let put: boolean | undefined;
    client.on("data", (d: Buffer) => {
      put ??= d.subarray(0, 4).toString("latin1") === "PUT ";
      if (put && seen <= at && at < seen + d.length) {
        d = Buffer.from(d);
        d[at - seen] ^= 0x10;
      }
      seen += d.length;
      node.write(d);
    });
    node.pipe(client);
    const end = () => {
      client.destroy();
      node.destroy();
    };
    client.on("error", end).on("close", end);
    node.on("error", end).on("close", end);
  });
  server.on("close", () => sockets.forEach((s) => s.destroy()));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port };
}

describe("a large upload's wire check", () => {
  let dir: { path: string; remove(): Promise<void> };
  let backend: DiskBackend;
  let node: RunningNodeServer;
  let client: NodeClient;
  let grpcOnly: NodeClient;

  beforeAll(async () => {
    dir = await tempDir("wirecrc");
    backend = new DiskBackend({ dataDir: dir.path, chunkSize: 64 * 1024, log: silentLog, compactIntervalMs: 0 });
    await backend.open();
    node = await startNodeServer(backend, "127.0.0.1", 0, { id: "n1", chunkSize: 64 * 1024, log: silentLog });
    client = new NodeClient("n1", `127.0.0.1:${node.port}`, { deadlineMs: 5000 });
    grpcOnly = new NodeClient("n1", `127.0.0.1:${node.port}`, { deadlineMs: 5000, blobPlane: false });
  });
  afterAll(async () => {
    client.close();
    grpcOnly.close();
    await node.stop(500);
    await backend.close();
    await dir.remove();
  });

  const tempFiles = async () => (await readdir(join(dir.path, "tmp")).catch(() => [])).length;

  async function upload(
    via: NodeClient,
    id: string,
    data: Buffer,
    check: WireCheck,
    trailer: { sha256?: Buffer; blockCrc?: number } = {},
  ): Promise<unknown> {
    const up = via.writeBlob(id, { k: id }, undefined, check);
    for (let at = 0; at < data.length; at += MIB) await up.write(data.subarray(at, at + MIB));
    return up.finish(data.length, trailer.sha256 ?? sha256(data), trailer.blockCrc ?? (check === "blockCrc" ? foldOf(data) : undefined));
  }

  test("(b) a good upload checked by block crc32 commits; its file reads back and verifies against the sender's sha256", async () => {
    const b = blobOf(3 * MIB + 12_345);
    const meta = await upload(client, "good", b.data, "blockCrc");
    expect(meta).toMatchObject({ blobId: "good", size: b.data.length, attributes: { k: "good" } });
    expect((await collect((await client.readBlob("good")).chunks)).equals(b.data)).toBe(true);
    const verified = await backend.verify("good");
    expect(verified.verdict).toBe("ok");
    expect(verified.meta!.sha256.equals(b.sha256)).toBe(true);
  });

  test("(b) the node checks the crc32s, not the sha256: it keeps the sender's, and verify (sha256) finds a wrong one", async () => {
    const b = blobOf(2 * MIB + 1);
    const wrongSha = sha256(Buffer.from("not the body"));
    const meta = (await upload(client, "trusted", b.data, "blockCrc", { sha256: wrongSha })) as { sha256: Buffer };
    expect(meta.sha256.equals(wrongSha)).toBe(true);
    expect((await backend.verify("trusted")).verdict).toBe("corrupt");
    await backend.delete("trusted");
  });

  test("(a) a wrong block crc32 in the trailer is refused with IntegrityError and leaves no blob", async () => {
    const b = blobOf(2 * MIB + 77);
    const err = await upload(client, "wrongcrc", b.data, "blockCrc", { blockCrc: (foldOf(b.data) ^ 1) >>> 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toMatch(/block crc32s do not match/);
    expect(await client.statBlob("wrongcrc")).toBeNull();
    expect(await tempFiles()).toBe(0);
  });

  test("(a) a bit flipped in transit is refused with IntegrityError by the crc32 check and leaves no blob", async () => {
    const proxy = await flippingProxy(node.port, 2 * MIB + 500_000); // inside a 1 MiB chunk's data
    const viaProxy = new NodeClient("n1", `127.0.0.1:${proxy.port}`, { deadlineMs: 5000 });
    try {
      const b = blobOf(4 * MIB);
      const err = await upload(viaProxy, "flipped", b.data, "blockCrc").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as Error).message).toMatch(/block crc32s do not match/);
      expect(await client.statBlob("flipped")).toBeNull();
      expect(await tempFiles()).toBe(0);
    } finally {
      viaProxy.close();
      await new Promise((r) => proxy.server.close(r));
    }
  });

  test("(d) without the header (or over WriteBlob) the sha256 is still checked", async () => {
    const b = blobOf(2 * MIB + 3);
    const wrongSha = sha256(Buffer.from("not the body"));
    for (const [via, check, id] of [
      [client, "sha256", "plain"],
      [grpcOnly, "blockCrc", "grpc"],
    ] as const) {
      const err = await upload(via, id, b.data, check, { sha256: wrongSha }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IntegrityError);
      expect((err as Error).message).toMatch(/sha256 does not match/);
      expect(await client.statBlob(id)).toBeNull();
    }
    expect(await upload(client, "plain-ok", b.data, "sha256")).toMatchObject({ blobId: "plain-ok", size: b.data.length });
    expect((await backend.verify("plain-ok")).verdict).toBe("ok");
  });
});
