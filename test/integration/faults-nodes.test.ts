import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { health, waitNodeDown, waitNodeLive } from "../support/api";
import { seededBytes, seededSha256, seededStream, sha256 } from "../support/bodies";
import { downloadWithFault, getJson, keyQuery, streamRetrieve, streamUpload, signedFetch } from "../support/http";

// Faults on a real cluster (3 storage nodes, 2 replicas, write quorum 2): large objects, racing
// writers, storage nodes crashing (SIGKILL) before and during requests. The tests run in order and
// each one leaves every node running again.

const MiB = 1024 * 1024;
const STORAGE = ["storage-1", "storage-2", "storage-3"];

interface Uploaded {
  key: string;
  size: number;
  sha256: string;
  versionId: string;
}
interface Stat extends Uploaded {
  replicas: string[];
}

let cluster: TestCluster;
let base: string;

beforeAll(async () => {
  cluster = await startCluster();
  base = cluster.httpUrl;
}, 90_000);
afterAll(async () => {
  // every fault test restarts what it killed; if one failed half-way, say which nodes were left down
  const down = cluster?.processes.filter((p) => STORAGE.includes(p.name) && !p.running).map((p) => p.name);
  if (down?.length) process.stderr.write(`faults-nodes: left down after a failure: ${down.join(", ")}\n`);
  await cluster?.stop();
}, 30_000);

async function put(key: string, body: Buffer | string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await signedFetch(`${base}/upload?${keyQuery(key)}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/octet-stream" },
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function putOk(key: string, body: Buffer | string): Promise<Uploaded> {
  const res = await put(key, body);
  if (res.status !== 201) throw new Error(`upload ${key}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
  return res.json as unknown as Uploaded;
}

async function getBody(key: string): Promise<{ status: number; body: Buffer; sha: string | null; version: string | null }> {
  const res = await signedFetch(`${base}/retrieve?${keyQuery(key)}`);
  return {
    status: res.status,
    body: Buffer.from(await res.arrayBuffer()),
    sha: res.headers.get("x-minis3-sha256"),
    version: res.headers.get("x-minis3-version-id"),
  };
}

const stat = (key: string) => getJson<Stat>(`${base}/stat?${keyQuery(key)}`);

/** Kills nodes with SIGKILL (a crash), waits until the coordinator sees them down. */
async function crash(...ids: string[]): Promise<void> {
  for (const id of ids) await cluster.stopNode(id, "SIGKILL");
  for (const id of ids) await waitNodeDown(cluster, id);
}

async function revive(...ids: string[]): Promise<void> {
  for (const id of ids) cluster.startNode(id);
  for (const id of ids) await waitNodeLive(cluster, id);
  await cluster.waitHealthy();
}

/** Runs `fn` with the nodes crashed; brings them back afterwards whatever happened. */
async function withNodesDown(ids: string[], fn: () => Promise<void>): Promise<void> {
  await crash(...ids);
  try {
    await fn();
  } finally {
    await revive(...ids);
  }
}

describe("large objects", () => {
  const size = 64 * MiB;
  let expectedSha: string;

  it("streams a 64 MiB upload and retrieve without either side holding it", async () => {
    expectedSha = await seededSha256("big64", size);
    const up = await streamUpload(base, "large/64mib", seededStream("big64", size), size);
    expect(up.status).toBe(201);
    expect(JSON.parse(up.text)).toMatchObject({ size, sha256: expectedSha });
    const down = await streamRetrieve(base, "large/64mib");
    expect(down.status).toBe(200);
    expect(down.headers["content-length"]).toBe(String(size));
    expect(down.size).toBe(size);
    expect(down.sha256).toBe(expectedSha);
  }, 60_000);

  it("a replica killed in the middle of a download: the client still gets the whole, correct body", async () => {
    const { replicas } = await stat("large/64mib");
    expect(replicas).toHaveLength(2);
    // Reads go to the live replicas in catalogue order, so the first one is serving this read.
    const victim = replicas[0];
    const warnsBefore = cluster.logs("coordinator", 500).filter((l) => l.includes("resuming read")).length;

    let result: { status: number; size: number; sha256: string };
    try {
      result = await downloadWithFault(`${base}/retrieve?${keyQuery("large/64mib")}`, 4 * MiB, () => cluster.stopNode(victim, "SIGKILL"));
    } finally {
      await revive(victim);
    }
    expect(result.status).toBe(200);
    expect(result.size).toBe(size);
    expect(result.sha256).toBe(expectedSha);
    // The fault was really hit: the coordinator resumed on the other replica.
    const warnsAfter = cluster.logs("coordinator", 500).filter((l) => l.includes("resuming read")).length;
    expect(warnsAfter).toBeGreaterThan(warnsBefore);
  }, 60_000);
});

describe("racing writers", () => {
  it("10 concurrent overwrites of one key: every read returns exactly one writer's full body, matching the catalogue", async () => {
    const key = "race/one-key";
    // sizes on both sides of the small-object path (64 KiB) so both write paths race
    const bodies = Array.from({ length: 10 }, (_, i) => seededBytes(`writer-${i}`, i % 2 === 0 ? 1000 + i : 300_000 + i * 1000));
    const shas = bodies.map((b) => sha256(b));

    // readers run alongside the writers: before the first commit a 404, after it only whole bodies
    let writing = true;
    const readerSeen: string[] = [];
    const reader = (async () => {
      while (writing) {
        const got = await getBody(key);
        if (got.status === 404) continue;
        expect(got.status).toBe(200);
        readerSeen.push(sha256(got.body));
        expect(got.sha).toBe(sha256(got.body));
      }
    })();
    let results: Uploaded[];
    try {
      results = await Promise.all(bodies.map((b) => putOk(key, b)));
    } finally {
      writing = false;
      await reader;
    }

    results.forEach((r, i) => expect(r.sha256).toBe(shas[i]));
    expect(new Set(results.map((r) => r.versionId)).size).toBe(10);
    for (const sha of readerSeen) expect(shas).toContain(sha);

    const st = await stat(key);
    const winner = shas.indexOf(st.sha256);
    expect(winner).toBeGreaterThanOrEqual(0);
    expect(st.versionId).toBe(results[winner].versionId);
    expect(st.size).toBe(bodies[winner].length);
    for (let i = 0; i < 5; i++) {
      const got = await getBody(key);
      expect(got.status).toBe(200);
      expect(got.body.equals(bodies[winner])).toBe(true);
      expect(got.version).toBe(st.versionId);
    }
    const listed = await getJson<{ objects: { key: string; sha256: string }[] }>(`${base}/objects?prefix=race/`);
    expect(listed.objects).toEqual([expect.objectContaining({ key, sha256: st.sha256 })]);
  }, 30_000);
});

describe("storage nodes down", () => {
  it("with storage-2 crashed: uploads still get 2 replicas (not storage-2), and older objects on it stay readable", async () => {
    const older: { key: string; body: Buffer; replicas: string[] }[] = [];
    for (let i = 0; i < 12; i++) {
      const body = seededBytes(`older-${i}`, i % 3 === 0 ? 200_000 : 2_000 + i);
      await putOk(`down/older-${i}`, body);
      older.push({ key: `down/older-${i}`, body, replicas: (await stat(`down/older-${i}`)).replicas });
    }
    const onVictim = older.filter((o) => o.replicas.includes("storage-2"));
    expect(onVictim.length).toBeGreaterThan(0); // 12 keys on 3 nodes at RF 2: some land on storage-2

    await withNodesDown(["storage-2"], async () => {
      for (let i = 0; i < 8; i++) {
        const body = seededBytes(`during-${i}`, 5_000 + i * 7_000);
        const up = await putOk(`down/during-${i}`, body);
        const { replicas } = await stat(`down/during-${i}`);
        expect(replicas).toHaveLength(2);
        expect(new Set(replicas).size).toBe(2);
        expect(replicas).not.toContain("storage-2");
        expect((await getBody(`down/during-${i}`)).body.equals(body)).toBe(true);
        expect(up.sha256).toBe(sha256(body));
      }
      for (const o of onVictim) {
        const got = await getBody(o.key);
        expect(got.status).toBe(200);
        expect(got.body.equals(o.body)).toBe(true);
      }
    });
    expect((await health(cluster)).liveStorageNodes).toBe(3);
    // and the returned node serves again: everything written before the crash reads back
    for (const o of older) expect((await getBody(o.key)).body.equals(o.body)).toBe(true);
  }, 60_000);

  it("with 2 of 3 storage nodes crashed: uploads answer 503 JSON and store nothing; after recovery they work", async () => {
    const survivorObjects: { key: string; body: Buffer }[] = [];
    for (let i = 0; i < 6; i++) {
      const body = seededBytes(`pre-${i}`, 3_000 + i);
      await putOk(`quorum/pre-${i}`, body);
      if ((await stat(`quorum/pre-${i}`)).replicas.includes("storage-1")) survivorObjects.push({ key: `quorum/pre-${i}`, body });
    }

    await withNodesDown(["storage-2", "storage-3"], async () => {
      expect((await health(cluster)).liveStorageNodes).toBe(1);

      const res = await put("quorum/refused", "no quorum for me");
      expect(res.status).toBe(503);
      expect(res.json.error).toEqual(expect.any(String));
      expect((await getBody("quorum/refused")).status).toBe(404);
      expect((await getJson<{ objects: unknown[] }>(`${base}/objects?prefix=quorum/refused`)).objects).toEqual([]);
      // reads of objects with a copy on the survivor still work
      for (const o of survivorObjects) expect((await getBody(o.key)).body.equals(o.body)).toBe(true);
    });
    const up = await putOk("quorum/accepted", "quorum is back");
    expect(up.size).toBe(14);
    expect((await stat("quorum/accepted")).replicas).toHaveLength(2);
  }, 60_000);
});
