import { randomBytes } from "node:crypto";
import { ErrorCode, hasCode } from "../../common/errors";
import { collect } from "../../rpc/testing/test-helpers";
import type { Catalogue, NewVersion } from "../catalogue/catalogue";
import type { VersionRow } from "../model/version-row";
import { BodyCache } from "../replicas/body-cache";
import { startNodes, versionOf, type InProcessNodes } from "../replicas/testing/in-process-nodes";
import type { ObjectStore } from "./object-store";
import { storeOnNodes } from "./testing/store-on-nodes";

// The engine's small uploads fill the coordinator's body cache once committed, and its GETs are
// answered from it: real storage node servers in this process, a catalogue kept in a Map.

const CHUNK = 64 * 1024;

let nodes: InProcessNodes;
beforeAll(async () => {
  nodes = await startNodes([{ id: "s1" }, { id: "s2" }], CHUNK);
});
afterAll(() => nodes.close());

/** A catalogue of one Map; `refuse` makes commits fail as a statement MariaDB refused would. */
function mapCatalogue() {
  const rows = new Map<string, VersionRow>();
  const state = { refuse: false };
  const catalogue = {
    async commit(v: NewVersion) {
      if (state.refuse) throw new Error("Duplicate entry (test fault)");
      const row = versionOf(v.versionId, Buffer.alloc(0), v.replicas, { ...v });
      rows.set(`${v.bucket}/${v.key}`, row);
      return { replaced: [] };
    },
    current: async (bucket: string, key: string) => rows.get(`${bucket}/${key}`) ?? null,
    version: async (id: string) => [...rows.values()].find((r) => r.versionId === id) ?? null,
  } as unknown as Catalogue;
  return { catalogue, state };
}

function storeWith(catalogue: Catalogue, bodies: BodyCache): ObjectStore {
  return storeOnNodes(nodes, catalogue, { replicas: 2, writeQuorum: 2, chunkSize: CHUNK, bodies });
}

async function* once(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

const nodeReads = () => nodes.backend("s1").reads.length + nodes.backend("s2").reads.length;

test("a GET of a small object just uploaded asks no storage node, a range of it neither", async () => {
  const { catalogue } = mapCatalogue();
  const store = storeWith(catalogue, new BodyCache(1 << 20, CHUNK));
  try {
    const data = randomBytes(4096);
    await store.put({ bucket: "bodies", key: "k", contentType: "", metadata: {}, body: once(data), requestId: undefined });
    const before = nodeReads();
    expect((await collect((await store.get("bodies", "k", undefined, undefined)).body)).equals(data)).toBe(true);
    const ranged = await store.get("bodies", "k", { offset: 100, length: 100 }, undefined);
    expect((await collect(ranged.body)).equals(data.subarray(100, 200))).toBe(true);
    expect(nodeReads()).toBe(before);
  } finally {
    await store.close();
  }
});

test("its bytes are served while every storage node holding it is away", async () => {
  const { catalogue } = mapCatalogue();
  const store = storeWith(catalogue, new BodyCache(1 << 20, CHUNK));
  const data = randomBytes(4096);
  await store.put({ bucket: "bodies", key: "away", contentType: "", metadata: {}, body: once(data), requestId: undefined });
  await nodes.stopServer("s1");
  await nodes.stopServer("s2");
  try {
    expect((await collect((await store.get("bodies", "away", undefined, undefined)).body)).equals(data)).toBe(true);
  } finally {
    await nodes.startServer("s1");
    await nodes.startServer("s2");
    await store.close();
  }
});

test("an upload whose commit failed is not cached; a large one is never", async () => {
  const { catalogue, state } = mapCatalogue();
  const bodies = new BodyCache(16 << 20, CHUNK);
  const store = storeWith(catalogue, bodies);
  try {
    state.refuse = true;
    const err = await store
      .put({ bucket: "bodies", key: "failed", contentType: "", metadata: {}, body: once(randomBytes(4096)), requestId: undefined })
      .catch((e) => e);
    expect(hasCode(err, ErrorCode.CatalogueUnavailable)).toBe(true);
    expect(bodies.size).toBe(0);
    state.refuse = false;
    const large = randomBytes(CHUNK + 1);
    await store.put({ bucket: "bodies", key: "large", contentType: "", metadata: {}, body: once(large), requestId: undefined });
    expect(bodies.size).toBe(0);
    const before = nodeReads();
    expect((await collect((await store.get("bodies", "large", undefined, undefined)).body)).equals(large)).toBe(true);
    expect(nodeReads()).toBeGreaterThan(before);
  } finally {
    await store.close();
  }
});

test("with the cache off (MINIS3_BODY_CACHE_BYTES=0) every GET reads a node", async () => {
  const { catalogue } = mapCatalogue();
  const store = storeWith(catalogue, new BodyCache(0, CHUNK));
  try {
    const data = randomBytes(4096);
    await store.put({ bucket: "bodies", key: "off", contentType: "", metadata: {}, body: once(data), requestId: undefined });
    for (let i = 1; i <= 2; i++) {
      const before = nodeReads();
      expect((await collect((await store.get("bodies", "off", undefined, undefined)).body)).equals(data)).toBe(true);
      expect(nodeReads()).toBe(before + 1);
    }
  } finally {
    await store.close();
  }
});
