import * as grpc from "@grpc/grpc-js";
import { connect, createServer, type Server, type Socket } from "node:net";
import { DiskBackend } from "../../blobstore/disk-backend";
import { GRPC_OPTIONS } from "../../common/grpc";
import type { BatchResponse } from "../gen/minis3/v1/node";
import { askingFor } from "../node-identity";
import { blobOf, silentLog, tempDir } from "../testing/test-helpers";
import { FastNodeServiceClient } from "../wire/node-service-fast";
import { startNodeServer, type RunningNodeServer } from "./node-server";

// The node's side of Exchange under a peer that stops reading (review finding 19, "Exchange server
// writes results without backpressure"). Measured: the node takes only the ops already received
// (100-200 of 3,000 here), since Node's HTTP/2 session stops reading its socket while it cannot
// write, so the results it holds stay bounded without more code. What broke was the other end of
// it: once the peer read again, the results that finished together went back as one message
// (138 MB), over grpc-js's 16 MiB limit, and the whole stream failed with every op on it. Results
// now go in messages of at most MAX_MESSAGE_PAYLOAD bytes.

const BLOB = 48 * 1024;
const OPS = 3000; // ~140 MiB of results, were they all held at once

let dir: { path: string; remove(): Promise<void> };
let backend: DiskBackend;
let server: RunningNodeServer;

/**
 * Between the peer and the node: forwards both ways, and while `stalled` reads nothing from the node
 * (a peer whose process is stopped, or cannot keep up), so the node's socket and buffers fill.
 */
class StallingProxy {
  private readonly server: Server;
  private readonly upstreams: Socket[] = [];
  port = 0;
  constructor(target: number) {
    this.server = createServer((peer) => {
      const node = connect(target, "127.0.0.1");
      this.upstreams.push(node);
      peer.pipe(node);
      node.pipe(peer);
      const close = () => (peer.destroy(), node.destroy());
      peer.on("error", close).on("close", close);
      node.on("error", close).on("close", close);
    });
  }
  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as { port: number }).port;
  }
  stall(): void {
    for (const s of this.upstreams) s.pause();
  }
  flow(): void {
    for (const s of this.upstreams) s.resume();
  }
  close(): void {
    for (const s of this.upstreams) s.destroy();
    this.server.close();
  }
}

beforeAll(async () => {
  dir = await tempDir("exchange-bp");
  backend = new DiskBackend({ dataDir: dir.path, chunkSize: 64 * 1024, log: silentLog, compactIntervalMs: 0 });
  await backend.open();
  server = await startNodeServer(backend, "127.0.0.1", 0, { id: "n1", chunkSize: 64 * 1024, log: silentLog });
});

afterAll(async () => {
  await server.stop(500);
  await backend.close();
  await dir.remove();
});

test("a peer that stops reading holds the node to the ops it had; reading again brings every result, in messages under the limit", async () => {
  const b = blobOf(BLOB);
  await backend.putSmall("held", {}, b.data, b.sha256);
  const reads = jest.spyOn(backend, "read");
  const proxy = new StallingProxy(server.port);
  await proxy.listen();
  const client = new FastNodeServiceClient(`127.0.0.1:${proxy.port}`, grpc.credentials.createInsecure(), {
    ...GRPC_OPTIONS,
    interceptors: [askingFor("n1")],
  });
  const call = client.exchange();
  try {
    await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 5000, (e) => (e ? reject(e) : resolve())));
    proxy.stall();
    // The node's results go nowhere: its socket, then its HTTP/2 stream fill up.
    // The ops go out over a while, as a busy coordinator's would, not all before the first result.
    for (let at = 0; at < OPS; at += 100) {
      await new Promise((r) => setTimeout(r, 20));
      const ops = Array.from({ length: 100 }, (_, i) => ({
        id: at + i + 1,
        requestId: "",
        op: { $case: "get" as const, value: { blobId: "held", offset: 0, length: undefined } },
      }));
      call.write({ ops });
    }
    await new Promise((r) => setTimeout(r, 1000));
    const startedWhileStalled = reads.mock.calls.length;
    process.stdout.write(`ops the node took while its peer read nothing: ${startedWhileStalled} of ${OPS}\n`);
    expect(startedWhileStalled).toBeLessThan(OPS / 4);

    proxy.flow();
    let results = 0;
    let wrong = 0;
    await new Promise<void>((resolve, reject) => {
      call.on("data", (batch: BatchResponse) => {
        for (const r of batch.results) {
          results++;
          if (r.code !== 0 || !r.data?.equals(b.data)) wrong++;
        }
        if (results === OPS) resolve();
      });
      call.on("error", reject);
    });
    expect({ results, wrong }).toEqual({ results: OPS, wrong: 0 });
  } finally {
    call.on("error", () => undefined); // the cancel below
    call.end();
    call.cancel();
    client.close();
    reads.mockRestore();
    proxy.close();
  }
}, 60_000);

test("a put's answer leaves out the attributes it was sent (the sender has them); a get's answer names them", async () => {
  const b = blobOf(4096);
  const client = new FastNodeServiceClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), {
    ...GRPC_OPTIONS,
    interceptors: [askingFor("n1")],
  });
  const call = client.exchange();
  try {
    const answers = new Map<number, BatchResponse["results"][number]>();
    const all = new Promise<void>((resolve, reject) => {
      call.on("data", (batch: BatchResponse) => {
        for (const r of batch.results) answers.set(r.id, r);
        if (answers.size === 2) resolve();
      });
      call.on("error", reject);
    });
    const attributes = { bucket: "b", key: "k", reason: "overwritten" };
    call.write({
      ops: [
        {
          id: 1,
          requestId: "",
          op: { $case: "put" as const, value: { header: { blobId: "echo", attributes }, data: b.data, sha256: b.sha256 } },
        },
      ],
    });
    await new Promise<void>((resolve) => {
      const wait = () => (answers.has(1) ? resolve() : setTimeout(wait, 5));
      wait();
    });
    call.write({ ops: [{ id: 2, requestId: "", op: { $case: "get" as const, value: { blobId: "echo", offset: 0, length: undefined } } }] });
    await all;
    const put = answers.get(1)!;
    expect(put.code).toBe(0);
    expect(put.blob).toMatchObject({ blobId: "echo", size: 4096 });
    expect(put.blob!.attributes).toEqual({});
    expect(put.blob!.sha256.equals(b.sha256)).toBe(true);
    expect(answers.get(2)!.blob!.attributes).toEqual(attributes);
  } finally {
    call.on("error", () => undefined);
    call.end();
    call.cancel();
    client.close();
  }
});
