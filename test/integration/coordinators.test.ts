import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { keyQuery } from "../support/http";
import { startSecondCoordinator } from "../support/second-coordinator";
import { waitFor } from "../support/wait";

// Two coordinators on one cluster. Each keeps a read cache of catalogue rows while it is the only
// live coordinator; a write through the other one must never leave it serving what it cached.

let cluster: TestCluster;
let second: ChildProcess | undefined;
let secondUrl: string;

beforeAll(async () => {
  cluster = await startCluster();
}, 90_000);
afterAll(async () => {
  second?.kill("SIGKILL");
  await cluster?.stop();
}, 30_000);

async function put(base: string, key: string, body: string): Promise<string> {
  const res = await fetch(`${base}/upload?${keyQuery(key)}`, { method: "POST", body });
  const json = (await res.json()) as { versionId: string };
  expect(res.status).toBe(201);
  return json.versionId;
}

interface Coordination {
  coordinators: { id: string; self: boolean }[];
  readCache: { enabled: boolean; rows: number };
}

async function coordination(base: string): Promise<Coordination> {
  const res = await fetch(`${base}/status`);
  return (await res.json()) as Coordination;
}

async function get(base: string, key: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${base}/retrieve?${keyQuery(key)}`);
  return { status: res.status, body: await res.text() };
}

test("reads through one coordinator see writes and deletes made through another", async () => {
  const a = cluster.httpUrl;
  await put(a, "shared", "first");
  expect(await get(a, "shared")).toEqual({ status: 200, body: "first" });
  expect(await get(a, "shared")).toEqual({ status: 200, body: "first" }); // now cached by A
  const alone = await coordination(a);
  expect(alone.coordinators).toEqual([expect.objectContaining({ self: true })]);
  expect(alone.readCache.enabled).toBe(true);
  expect(alone.readCache.rows).toBeGreaterThanOrEqual(1);

  ({ url: secondUrl, process: second } = await startSecondCoordinator(cluster));
  await put(secondUrl, "shared", "second");
  expect(await get(a, "shared")).toEqual({ status: 200, body: "second" });
  expect(await get(secondUrl, "shared")).toEqual({ status: 200, body: "second" });
  // (Its status shows it at its next look; the correctness above cannot wait for that.)
  const both = await waitFor(
    "A lists B",
    async () => {
      const c = await coordination(a);
      return c.coordinators.length === 2 ? c : undefined;
    },
    10_000,
    200,
  );
  expect(both.coordinators.map((c) => c.self).sort()).toEqual([false, true]);
  expect(both.readCache.enabled).toBe(false);

  await put(a, "other", "from a");
  expect(await get(secondUrl, "other")).toEqual({ status: 200, body: "from a" });
  const del = await fetch(`${secondUrl}/delete?${keyQuery("other")}`, { method: "DELETE" });
  expect(del.status).toBe(200);
  expect((await get(a, "other")).status).toBe(404);

  // B overwrites and leaves; A, alone again, must not answer from anything it knew before.
  await put(secondUrl, "shared", "third");
  second!.kill("SIGTERM");
  await once(second!, "exit");
  second = undefined;
  expect(await get(a, "shared")).toEqual({ status: 200, body: "third" });
  await put(a, "shared", "fourth");
  expect(await get(a, "shared")).toEqual({ status: 200, body: "fourth" });
  await waitFor("A caches again once alone", async () => ((await coordination(a)).readCache.enabled ? true : undefined), 10_000, 200);
}, 90_000);
