import { blobOf, collect, flipByte, silentLog } from "../../rpc/testing/test-helpers";
import type { VersionRow } from "../model/version-row";
import { BodyCache } from "./body-cache";
import { ReplicaReader } from "./replica-reader";
import { startNodes, type InProcessNodes } from "./testing/in-process-nodes";

// Reads against real node servers (gRPC, disk backends) in this process.

const CHUNK = 64 * 1024;

describe("ReplicaReader", () => {
  let nodes: InProcessNodes;
  let reader: ReplicaReader;
  const bad: string[] = [];

  beforeAll(async () => {
    nodes = await startNodes([{ id: "late", late: true }, { id: "n1" }, { id: "n2" }, { id: "down", unreachable: true }], CHUNK);
    reader = new ReplicaReader(nodes.pool, CHUNK, silentLog, (id) => bad.push(id));
  });
  afterAll(() => nodes.close());
  beforeEach(() => {
    bad.length = 0;
    for (const id of ["late", "n1", "n2"]) {
      const b = nodes.backend(id);
      b.reads.length = 0;
      b.breakReadsAfter = undefined;
      b.vanishReadsAfter = undefined;
    }
  });

  async function store(versionId: string, size: number, on: string[]): Promise<{ data: Buffer; v: VersionRow }> {
    const { data } = blobOf(size);
    return { data, v: await nodes.store(versionId, data, on) };
  }

  it("reads from a live replica before one the directory holds down, small and large alike", async () => {
    for (const [id, size] of [
      ["r-small", 1000],
      ["r-large", 3 * CHUNK],
    ] as const) {
      const { data, v } = await store(id, size, ["late", "n1"]);
      expect((await collect(await reader.open(v, 0, size, undefined))).equals(data)).toBe(true);
    }
    expect(nodes.backend("late").reads).toEqual([]);
    expect(nodes.backend("n1").reads.map((r) => r.blobId)).toEqual(["r-small", "r-large"]);
  });

  it("passes over a replica that does not answer", async () => {
    const { data, v } = await store("r-down", 2000, ["n1"]);
    v.replicas = ["down", "n1"];
    expect((await collect(await reader.open(v, 0, 2000, undefined))).equals(data)).toBe(true);
    expect(nodes.directory.isLive("down")).toBe(false); // suspected: the next read tries n1 first
  });

  it("resumes a large read on the next replica at the byte where the first one broke", async () => {
    const size = 5 * CHUNK + 123;
    const { data, v } = await store("r-resume", size, ["n1", "n2"]);
    nodes.backend("n1").breakReadsAfter = 2 * CHUNK;
    const offset = 1000;
    const body = await collect(await reader.open(v, offset, size - offset, undefined));
    expect(body.equals(data.subarray(offset))).toBe(true);
    const [from1] = nodes.backend("n1").reads;
    const [from2] = nodes.backend("n2").reads;
    expect(from1.offset).toBe(offset);
    expect(from2.offset).toBeGreaterThan(offset); // resumed, not started over
    expect(from2.offset).toBeLessThanOrEqual(offset + 2 * CHUNK);
  });

  it("a read whose every copy is deleted under it by a move resumes on the copies the catalogue lists now", async () => {
    const size = 5 * CHUNK + 77;
    const { data, v } = await store("r-moved", size, ["n1"]);
    await nodes.store("r-moved", data, ["n2"]); // where the move put it
    nodes.backend("n1").vanishReadsAfter = 2 * CHUNK;
    // Without a way to ask where the version is now, the read can only end cut.
    await expect(reader.open(v, 0, size, undefined).then(collect)).rejects.toMatchObject({ name: "NotFoundError" });
    nodes.backend("n2").reads.length = 0;
    const asked: string[] = [];
    const relocate = async () => {
      asked.push("where now");
      return ["n2"];
    };
    const body = await collect(await reader.open(v, 0, size, undefined, { relocate }));
    expect(body.equals(data)).toBe(true);
    expect(asked).toHaveLength(1);
    const [resumed] = nodes.backend("n2").reads;
    expect(resumed.offset).toBeGreaterThan(0); // resumed, not started over
    expect(resumed.offset).toBeLessThanOrEqual(2 * CHUNK);
  });

  it("a small read skips a replica whose bytes fail the catalogue's checksum, and reports it", async () => {
    const { data, v } = await store("r-rot", 1500, ["n1", "n2"]);
    nodes.backend("n1").corruptReads = true;
    try {
      expect(await reader.readSmall(v, undefined)).toEqual(data);
    } finally {
      nodes.backend("n1").corruptReads = false;
    }
    expect(nodes.backend("n2").reads.map((r) => r.blobId)).toEqual(["r-rot"]);
    expect(bad).toEqual(["r-rot"]);
  });

  it("fails a large read whose replica fails its checksum after sending bytes, and reads the good copy first after", async () => {
    const size = 5 * CHUNK + 321;
    const { data, v } = await store("r-rot-large", size, ["n1", "n2"]);
    await nodes.corruptFile("n1", "r-rot-large", 2 * CHUNK + 5);
    let got = 0;
    const first = (async () => {
      for await (const c of await reader.open(v, 0, size, undefined)) got += c.length;
    })();
    // The node held back its last chunk; resuming on n2 would have finished a body with a bad byte in it.
    await expect(first).rejects.toMatchObject({ name: "IntegrityError" });
    expect(got).toBeLessThan(size);
    expect(nodes.backend("n2").reads).toEqual([]);
    expect(bad).toEqual(["r-rot-large"]);
    // Until repair replaces it, the bad copy is tried last.
    expect((await collect(await reader.open(v, 0, size, undefined))).equals(data)).toBe(true);
    expect(nodes.backend("n2").reads.map((r) => r.offset)).toEqual([0]);
    expect(nodes.backend("n1").reads).toHaveLength(1);
  });

  it("moves a streamed read to the next copy when the corrupt one fails before its first byte", async () => {
    const { data, v } = await store("r-rot-first", 1000, ["n1", "n2"]);
    const entry = nodes.backend("n1").disk.segments.get("r-rot-first")!;
    await flipByte(entry.segment.path, entry.dataStart + 500);
    // Streamed although small (smallMax 100): the node checks a whole segment record before sending any of it.
    const streaming = new ReplicaReader(nodes.pool, 100, silentLog, (id) => bad.push(id));
    expect((await collect(await streaming.open(v, 0, 1000, undefined))).equals(data)).toBe(true);
    expect(nodes.backend("n2").reads.map((r) => r.blobId)).toEqual(["r-rot-first"]);
    expect(bad).toEqual(["r-rot-first"]);
  });

  it("reads only from the sources it is given", async () => {
    const { data, v } = await store("r-sources", 800, ["n1", "n2"]);
    expect((await reader.readSmall(v, undefined, ["n2"])).equals(data)).toBe(true);
    expect(nodes.backend("n1").reads).toEqual([]);
  });

  describe("with a body cache", () => {
    const cached = (bodies = new BodyCache(1 << 20, CHUNK)) => ({
      bodies,
      reader: new ReplicaReader(nodes.pool, CHUNK, silentLog, undefined, bodies),
    });
    const reads = () => ["n1", "n2"].reduce((n, id) => n + nodes.backend(id).reads.length, 0);

    it("reads a small version from a node once; then answers it, and its ranges, with no node asked", async () => {
      const { reader } = cached();
      const { data, v } = await store("c-small", 3000, ["n1", "n2"]);
      expect((await collect(await reader.open(v, 0, 3000, undefined))).equals(data)).toBe(true);
      expect(reads()).toBe(1);
      v.replicas = ["down"]; // its nodes away: the bytes are still this version's
      expect((await collect(await reader.open(v, 0, 3000, undefined))).equals(data)).toBe(true);
      expect((await collect(await reader.open(v, 10, 20, undefined))).equals(data.subarray(10, 30))).toBe(true);
      expect((await reader.readSmall(v, undefined, ["n2"], false)).equals(data)).toBe(true); // a copy's read
      expect(reads()).toBe(1);
    });

    it("keeps no bytes a copy read unchecked, nor bytes that failed the checksum", async () => {
      const { reader, bodies } = cached();
      const { data, v } = await store("c-unchecked", 2000, ["n1", "n2"]);
      expect((await reader.readSmall(v, undefined, v.replicas, false)).equals(data)).toBe(true);
      expect(bodies.size).toBe(0);
      nodes.backend("n1").corruptReads = true;
      nodes.backend("n2").corruptReads = true;
      try {
        await expect(reader.open(v, 0, 2000, undefined)).rejects.toMatchObject({ name: "IntegrityError" });
      } finally {
        nodes.backend("n1").corruptReads = false;
        nodes.backend("n2").corruptReads = false;
      }
      expect(bodies.size).toBe(0);
      expect((await collect(await reader.open(v, 0, 2000, undefined))).equals(data)).toBe(true);
      expect(bodies.size).toBe(1); // checked this time
    });

    it("keeps no body over the small threshold, and nothing with a bound of 0", async () => {
      const { reader, bodies } = cached();
      const { data, v } = await store("c-large", 2 * CHUNK, ["n1"]);
      expect((await collect(await reader.open(v, 0, 2 * CHUNK, undefined))).equals(data)).toBe(true);
      expect(bodies.size).toBe(0);
      const off = cached(new BodyCache(0, CHUNK));
      const small = await store("c-off", 100, ["n1"]);
      for (let i = 0; i < 2; i++) expect((await collect(await off.reader.open(small.v, 0, 100, undefined))).equals(small.data)).toBe(true);
      expect(nodes.backend("n1").reads.filter((r) => r.blobId === "c-off")).toHaveLength(2);
    });
  });
});

describe("ReplicaReader.liveFirst", () => {
  it("orders live nodes, then the others, then a copy that failed its checksum, list order kept within each", () => {
    const live = new Set(["a", "c", "e"]);
    const pool = { isLive: (id: string) => live.has(id) } as unknown as ConstructorParameters<typeof ReplicaReader>[0];
    const reader = new ReplicaReader(pool, 1024, silentLog);
    expect(reader.liveFirst(["b", "a", "d", "c"])).toEqual(["a", "c", "b", "d"]);
    expect(reader.liveFirst(["a", "c"])).toEqual(["a", "c"]);
    expect(reader.liveFirst(["d", "b"])).toEqual(["d", "b"]);
    expect(reader.liveFirst([])).toEqual([]);
    // A copy that failed its checksum goes last, live or not.
    (reader as unknown as { badCopies: Map<string, Set<string>> }).badCopies.set("v1", new Set(["a", "d"]));
    expect(reader.liveFirst(["a", "b", "c", "d", "e"], "v1")).toEqual(["c", "e", "b", "a", "d"]);
    expect(reader.liveFirst(["a", "b", "c", "d", "e"], "v2")).toEqual(["a", "c", "e", "b", "d"]);
  });
});
