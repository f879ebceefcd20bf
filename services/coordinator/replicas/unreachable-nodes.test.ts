import { blobOf, collect, silentLog } from "../../rpc/testing/test-helpers";
import { ReplicaWriter } from "./replica-writer";
import { startNodes, type InProcessNodes } from "./testing/in-process-nodes";

// Nodes that heartbeat (the directory holds them live) but that this coordinator cannot reach:
// "down" refuses connections, "silent" takes them and never answers. A large upload must not fail
// for them while other live nodes could take its copies (correctness review, finding 9).

const CHUNK = 64 * 1024;

describe("a large upload to nodes that cannot be reached", () => {
  let nodes: InProcessNodes;
  let writer: ReplicaWriter;

  beforeAll(async () => {
    nodes = await startNodes(
      [{ id: "n1" }, { id: "silent", silent: true }, { id: "down", unreachable: true }, { id: "n2" }, { id: "n3" }],
      CHUNK,
    );
    writer = new ReplicaWriter(nodes.pool, silentLog);
  });
  afterAll(() => nodes.close());

  it("falls over past them to the next nodes of the preference list before the first byte, and they stay suspected", async () => {
    const b = blobOf(3 * CHUNK + 1);
    const up = writer.startLarge("u-large", ["n1", "silent", "down"], 3, undefined, ["n2", "n3"]);
    for (let at = 0; at < b.data.length; at += CHUNK) await up.write(b.data.subarray(at, at + CHUNK));
    expect((await up.finish(b.data.length, b.sha256)).sort()).toEqual(["n1", "n2", "n3"]);
    const read = await nodes.backend("n3").disk.read("u-large", 0, undefined);
    expect((await collect(read.chunks)).equals(b.data)).toBe(true);

    // Their heartbeats (the directory's next refresh) do not bring them back into routing.
    await nodes.directory.refresh();
    expect(nodes.pool.isLive("silent")).toBe(false);
    expect(nodes.pool.isLive("down")).toBe(false);
    expect(nodes.directory.heartbeating("silent")).toBe(true);
  });

  it("with no spare left, it fails below its quorum and keeps no copy", async () => {
    const b = blobOf(2 * CHUNK);
    const up = writer.startLarge("u-short", ["n1", "silent"], 2);
    const send = async () => {
      for (let at = 0; at < b.data.length; at += CHUNK) await up.write(b.data.subarray(at, at + CHUNK));
      return up.finish(b.data.length, b.sha256);
    };
    await expect(send()).rejects.toThrow(/write quorum is 2/);
    expect(await nodes.backend("n1").stat("u-short")).toBeNull();
  });
});
