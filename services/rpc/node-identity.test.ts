import { join } from "node:path";
import { DiskBackend } from "../blobstore/disk-backend";
import { ErrorCode, hasCode } from "../common/errors";
import { NodeClient } from "./client/node-client";
import { startNodeServer, type RunningNodeServer } from "./server/node-server";
import { blobOf, silentLog, tempDir } from "./testing/test-helpers";

// A node checks that a request was meant for it (issue 12 item 9, review finding 19): with
// MINIS3_NODE_PORT=0 a restarted node can take another node's old port, and a coordinator that
// has not yet seen the change would send it the other node's puts and deletes.

const CHUNK = 64 * 1024;

interface Node {
  dir: { path: string; remove(): Promise<void> };
  backend: DiskBackend;
  server: RunningNodeServer;
  address: string;
}

async function startNode(id: string): Promise<Node> {
  const dir = await tempDir(id);
  const backend = new DiskBackend({ dataDir: join(dir.path), chunkSize: CHUNK, log: silentLog, compactIntervalMs: 0 });
  await backend.open();
  const server = await startNodeServer(backend, "127.0.0.1", 0, { id, chunkSize: CHUNK, log: silentLog });
  return { dir, backend, server, address: `127.0.0.1:${server.port}` };
}

let a: Node;
let b: Node;
let toA: NodeClient;
/** Asks for node B, but dials node A's address (B's old port, now A's). */
let misdirected: NodeClient;

beforeAll(async () => {
  a = await startNode("node-a");
  b = await startNode("node-b");
  toA = new NodeClient("node-a", a.address, { deadlineMs: 5000 });
  misdirected = new NodeClient("node-b", a.address, { deadlineMs: 5000 });
});

afterAll(async () => {
  toA.close();
  misdirected.close();
  for (const n of [a, b]) {
    await n.server.stop(500);
    await n.backend.close();
    await n.dir.remove();
  }
});

async function codeOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => "ok",
    (e: unknown) => (hasCode(e, ErrorCode.WrongNode) ? ErrorCode.WrongNode : e),
  );
}

test("node A refuses every call meant for node B with WrongNode, and deletes nothing", async () => {
  const small = blobOf(1000);
  const large = blobOf(3 * CHUNK + 5);
  await toA.putSmall("shared-small", {}, small.data, small.sha256);
  const up = toA.writeBlob("shared-large", {});
  await up.write(large.data);
  await up.finish(large.data.length, large.sha256);

  // Exchange ops (small put, get, stat, delete) and the NodeService calls.
  expect(await codeOf(misdirected.deleteBlob("shared-small"))).toBe(ErrorCode.WrongNode);
  expect(await codeOf(misdirected.deleteBlob("shared-large"))).toBe(ErrorCode.WrongNode);
  expect(await codeOf(misdirected.statBlob("shared-small"))).toBe(ErrorCode.WrongNode);
  expect(await codeOf(misdirected.getSmall("shared-small"))).toBe(ErrorCode.WrongNode);
  expect(await codeOf(misdirected.putSmall("b-only", {}, small.data, small.sha256))).toBe(ErrorCode.WrongNode);
  expect(await codeOf(misdirected.readBlob("shared-large"))).toBe(ErrorCode.WrongNode);
  expect(await codeOf(misdirected.info())).toBe(ErrorCode.WrongNode);
  const misput = misdirected.writeBlob("b-large", {});
  const wrote = await codeOf(misput.write(large.data).then(() => misput.finish(large.data.length, large.sha256)));
  expect(wrote).toBe(ErrorCode.WrongNode);

  // Node A still holds both blobs, and took nothing meant for B.
  expect((await toA.statBlob("shared-small"))?.size).toBe(1000);
  expect((await toA.statBlob("shared-large"))?.size).toBe(large.data.length);
  expect(await toA.statBlob("b-only")).toBeNull();
  expect(await toA.statBlob("b-large")).toBeNull();
});

test("calls that name the node they reach still work", async () => {
  expect((await toA.info()).id).toBe("node-a");
  const toB = new NodeClient("node-b", b.address, { deadlineMs: 5000 });
  try {
    const blob = blobOf(10);
    await toB.putSmall("b1", {}, blob.data, blob.sha256);
    expect((await toB.getSmall("b1")).data.equals(blob.data)).toBe(true);
  } finally {
    toB.close();
  }
});
