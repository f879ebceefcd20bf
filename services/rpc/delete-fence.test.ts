import * as grpc from "@grpc/grpc-js";
import * as net from "node:net";
import { DiskBackend } from "../blobstore/disk-backend";
import { bindServer, SERVER_OPTIONS, shutdownServer } from "../common/grpc";
import { DeleteFenced, NodeClient } from "./client/node-client";
import type { BatchResponse } from "./gen/minis3/v1/node";
import { createNodeService, startNodeServer, type RunningNodeServer } from "./server/node-server";
import { FencedBackend } from "./server/put-fence";
import { encodeBatchResponse } from "./wire/exchange-codec";
import { FastNodeService } from "./wire/node-service-fast";
import { blobOf, silentLog, tempDir } from "./testing/test-helpers";

const CHUNK = 64 * 1024;

/**
 * A TCP proxy whose client-to-node bytes can be held (a delete sitting in a socket buffer, or in
 * flight from a coordinator that gave up on it or died) and let through later, in order.
 */
class HoldingProxy {
  private readonly server: net.Server;
  private held = false;
  private readonly gates: { upstream: net.Socket; queue: Buffer[] }[] = [];
  port = 0;

  constructor(private readonly target: number) {
    this.server = net.createServer((down) => {
      const upstream = net.connect(target, "127.0.0.1");
      const gate = { upstream, queue: [] as Buffer[] };
      this.gates.push(gate);
      down.on("data", (b) => (this.held ? gate.queue.push(b) : upstream.write(b)));
      upstream.on("data", (b) => down.write(b));
      // A coordinator that went away: what it had sent still reaches the node, then its connection ends.
      down.on("close", () => (this.held ? gate.queue.push(Buffer.alloc(0)) : upstream.end()));
      upstream.on("close", () => down.destroy());
      down.on("error", () => undefined);
      upstream.on("error", () => undefined);
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    for (const g of this.gates) {
      for (const b of g.queue.splice(0)) {
        if (b.length) g.upstream.write(b);
        else g.upstream.end();
      }
    }
  }

  async close(): Promise<void> {
    for (const g of this.gates) g.upstream.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a node's delete is fenced against copies put after the deleter's view", () => {
  let dir: { path: string; remove(): Promise<void> };
  let backend: DiskBackend;
  let server: RunningNodeServer;
  let proxy: HoldingProxy;
  let other: NodeClient;

  beforeAll(async () => {
    dir = await tempDir("fence");
    backend = new DiskBackend({ dataDir: dir.path, chunkSize: CHUNK, log: silentLog, compactIntervalMs: 0 });
    await backend.open();
    server = await startNodeServer(backend, "127.0.0.1", 0, { id: "n1", chunkSize: CHUNK, log: silentLog });
    proxy = new HoldingProxy(server.port);
    await proxy.start();
    // The job that writes the new copy: straight to the node.
    other = new NodeClient("n1", `127.0.0.1:${server.port}`, { deadlineMs: 5000 });
  });
  afterAll(async () => {
    other.close();
    await proxy.close();
    await server.stop(500);
    await backend.close();
    await dir.remove();
  });

  // Small: a segment record; 1.5 MiB: a file of its own (DiskBackend's putSmall past 1 MiB).
  for (const [label, size, how] of [
    ["a small copy, the deleter timed out", 4096, "timeout"],
    ["a large copy, the deleter timed out", 1536 * 1024, "timeout"],
    ["a small copy, the deleter died", 4096, "died"],
  ] as const) {
    it(`a delete held past its caller keeps the new copy put meanwhile (${label})`, async () => {
      const id = `fence-${size}-${how}`;
      const blob = blobOf(size);
      // The deleting coordinator, through the proxy; a short deadline: it gives up on a held delete.
      const deleter = new NodeClient("n1", `127.0.0.1:${proxy.port}`, { deadlineMs: 300 });
      try {
        await other.putSmall(id, {}, blob.data, blob.sha256);
        // The deleter has talked to the node (read the row, under its lock, listing this copy).
        expect(await deleter.statBlob(id)).not.toBeNull();

        proxy.hold();
        const deleting = deleter.deleteBlob(id);
        deleting.catch(() => undefined);
        await sleep(20); // the delete leaves the deleter, into the held buffer
        if (how === "died") deleter.close();
        else await expect(deleting).rejects.toThrow(/did not answer/);
        // Its lock is gone: another job claims the node, writes a new copy of the version, and commits it.
        const put = await other.putSmall(id, {}, blob.data, blob.sha256);
        expect(put.size).toBe(size);

        proxy.release(); // the old delete lands now
        await sleep(300);
        expect(await other.statBlob(id)).not.toBeNull();
      } finally {
        proxy.release();
        deleter.close();
      }
    });
  }

  it("a delete with a current view still deletes", async () => {
    const id = "fence-plain";
    const blob = blobOf(4096);
    const deleter = new NodeClient("n1", `127.0.0.1:${proxy.port}`, { deadlineMs: 5000 });
    try {
      await other.putSmall(id, {}, blob.data, blob.sha256);
      await deleter.statBlob(id);
      expect(await deleter.deleteBlob(id)).toBe(true);
      expect(await other.statBlob(id)).toBeNull();
      // A copy put by another coordinator after this one's last answer: deleted all the same (the
      // deleter's client asks again with the node's position from the fenced answer, its lock proven
      // still held after that answer).
      await other.putSmall(id, {}, blob.data, blob.sha256);
      let checks = 0;
      expect(await deleter.deleteBlob(id, undefined, async () => void checks++)).toBe(true);
      expect(checks).toBe(1);
      expect(await other.statBlob(id)).toBeNull();
      expect(await deleter.deleteBlob(id)).toBe(false);
    } finally {
      deleter.close();
    }
  });

  it("a fenced delete is not asked again once its caller's lock is gone: the copy put meanwhile stays", async () => {
    const id = "fence-lock-gone";
    const blob = blobOf(4096);
    const deleter = new NodeClient("n1", `127.0.0.1:${proxy.port}`, { deadlineMs: 5000 });
    let lockHeld = true;
    try {
      await other.putSmall(id, {}, blob.data, blob.sha256);
      expect(await deleter.statBlob(id)).not.toBeNull(); // read under the lock: this copy
      proxy.hold();
      const stillHeld = async () => {
        if (!lockHeld) throw new Error("the lock's connection is gone");
      };
      const deleting = deleter.deleteBlob(id, undefined, stillHeld);
      deleting.catch(() => undefined);
      await sleep(20);
      // The caller still waits, but MariaDB lost its connection and the lock with it: another job
      // claims the node and commits a new copy there. The held delete then lands, fenced.
      lockHeld = false;
      await other.putSmall(id, {}, blob.data, blob.sha256);
      proxy.release();
      await expect(deleting).rejects.toThrow(/the lock's connection is gone/);
      await sleep(100);
      expect(await other.statBlob(id)).not.toBeNull();
      // Without a way to prove its lock, a fenced delete is never asked again either.
      proxy.hold();
      const unproven = deleter.deleteBlob(id);
      unproven.catch(() => undefined);
      await sleep(20);
      await other.putSmall(id, {}, blob.data, blob.sha256);
      proxy.release();
      await expect(unproven).rejects.toBeInstanceOf(DeleteFenced);
      expect(await other.statBlob(id)).not.toBeNull();
    } finally {
      proxy.release();
      deleter.close();
    }
  });

  it("a node restarted since the client last heard it: the delete names the old boot, is fenced, and is asked again at the new one", async () => {
    const dir2 = await tempDir("fence-restart");
    const disk = new DiskBackend({ dataDir: dir2.path, chunkSize: CHUNK, log: silentLog, compactIntervalMs: 0 });
    await disk.open();
    let node = await startNodeServer(disk, "127.0.0.1", 0, { id: "n2", chunkSize: CHUNK, log: silentLog });
    const port = node.port;
    const client = new NodeClient("n2", `127.0.0.1:${port}`, { deadlineMs: 5000 });
    // The restarted process's fence, given to the server so that its answers can be watched.
    const restarted = new FencedBackend(disk);
    const outcomes: string[] = [];
    const decide = restarted.deleteFenced.bind(restarted);
    restarted.deleteFenced = async (id, fence) => {
      const outcome = await decide(id, fence);
      outcomes.push(`${id} ${outcome}`);
      return outcome;
    };
    try {
      const blob = blobOf(4096);
      await client.putSmall("r1", {}, blob.data, blob.sha256); // heard: the first boot's position
      await node.stop(200);
      await sleep(100); // the client hears its stream end (a caller would retry a delete failed with it)
      node = await startNodeServer(restarted, "127.0.0.1", port, { id: "n2", chunkSize: CHUNK, log: silentLog });
      expect(await client.deleteBlob("r1", undefined, async () => undefined)).toBe(true); // its caller's lock still held
      expect(outcomes).toEqual(["r1 fenced", "r1 deleted"]);
      expect(await client.statBlob("r1")).toBeNull();
    } finally {
      client.close();
      await node.stop(200);
      await disk.close();
      await dir2.remove();
    }
  });

  it("an older node (no position in its answers) gets unfenced deletes, without a stat before each", async () => {
    // The node as it was: its Exchange messages carry no boot and no sequence.
    const older = new grpc.Server(SERVER_OPTIONS);
    const oldWire = {
      ...FastNodeService,
      exchange: { ...FastNodeService.exchange, responseSerialize: (r: BatchResponse) => encodeBatchResponse({ ...r, boot: 0, seq: 0 }) },
    };
    const ops: string[] = [];
    const spied = Object.assign(Object.create(backend) as DiskBackend, {
      stat: (id: string) => (ops.push(`stat ${id}`), backend.stat(id)),
      delete: (id: string) => (ops.push(`delete ${id}`), backend.delete(id)),
    });
    older.addService(oldWire, createNodeService(spied, { id: "n1", chunkSize: CHUNK, log: silentLog }));
    const port = await bindServer(older, "127.0.0.1", 0);
    const client = new NodeClient("n1", `127.0.0.1:${port}`, { deadlineMs: 5000 });
    try {
      const blob = blobOf(4096);
      await other.putSmall("older-1", {}, blob.data, blob.sha256);
      await other.putSmall("older-2", {}, blob.data, blob.sha256);
      expect(await client.deleteBlob("older-1")).toBe(true); // not heard from yet: a stat first
      await other.putSmall("older-1", {}, blob.data, blob.sha256);
      expect(await client.deleteBlob("older-1")).toBe(true); // put after: an older node cannot tell
      expect(await client.deleteBlob("older-2")).toBe(true);
      expect(ops).toEqual(["stat older-1", "delete older-1", "delete older-1", "delete older-2"]);
    } finally {
      client.close();
      await shutdownServer(older, 500);
    }
  });
});
