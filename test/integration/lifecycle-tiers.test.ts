import { randomBytes } from "node:crypto";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { remove, retrieve, upload } from "../support/http";
import { listedKeys, queueOf, queuesIdle, statOf, statusOf, tierOf, trashOf } from "../support/lifecycle/api";
import { sha256Hex } from "../support/lifecycle/bodies";
import { postJson, retrieveHashed } from "../support/lifecycle/http";
import { stopAndReport, withCoordinatorLogs } from "../support/lifecycle/crash-report";
import { ClusterInspector } from "../support/lifecycle/inspector";
import { sleep, waitFor } from "../support/lifecycle/wait";

// End-to-end lifecycle on a real cluster: hot → cold → hot, delete → trash → undelete or purge,
// overwrite, and the races between reads, deletes and the background moves. Bodies are checked by
// sha256 at every step; where the bytes are is checked on the nodes themselves, not only in the
// catalogue. Timings: the reconciler runs every 500 ms, so transitions land within about that of due.

const HOT_TTL_MS = 3000;
const TRASH_TTL_MS = 8000;
/** How late a transition may land after it is due: reconcile interval, a job, a copy, on 2 busy cores. */
const SLACK_MS = 6000;

jest.setTimeout(60_000);

describe("lifecycle tiers (real cluster)", () => {
  let cluster: TestCluster;
  let nodes: ClusterInspector;
  let base: string;
  let storage: string[];

  beforeAll(async () => {
    cluster = await startCluster({
      storageNodes: 3,
      env: { MINIS3_HOT_TTL: "3s", MINIS3_TRASH_TTL: "8s", MINIS3_RECONCILE_INTERVAL: "500ms", MINIS3_REPLICAS: "2" },
    });
    base = cluster.httpUrl;
    nodes = new ClusterInspector(cluster);
    storage = nodes.nodeIds("storage");
  }, 90_000);

  afterAll(async () => {
    await stopAndReport(cluster, nodes);
  });

  const withLogs = <T>(what: Promise<T>): Promise<T> => withCoordinatorLogs(cluster, what);

  const waitTier = (key: string, tier: "hot" | "cold", timeoutMs = HOT_TTL_MS + SLACK_MS) =>
    withLogs(waitFor(`${key} to be ${tier}`, async () => {
      const s = await statOf(base, key);
      return s?.tier === tier && (tier === "cold" || s.replicas.length === 2) ? s : undefined;
    }, timeoutMs));

  /** The nodes holding the bytes settle on exactly the catalogue's replicas (old copies cleaned up). */
  const waitHolders = (versionId: string, expected: string[]) =>
    withLogs(waitFor(`copies of ${versionId} on exactly ${expected.join(", ")}`, async () => {
      const held = await nodes.holders(versionId);
      return JSON.stringify(held.sort()) === JSON.stringify([...expected].sort()) ? held : undefined;
    }, SLACK_MS));

  /** Same, against the catalogue's replicas as they are at each look (the tier may still move). */
  const waitHoldersMatchCatalogue = (versionId: string) =>
    withLogs(waitFor(`copies of ${versionId} where the catalogue says`, async () => {
      const row = await nodes.version(versionId);
      const held = await nodes.holders(versionId);
      const again = await nodes.version(versionId);
      if (!row || JSON.stringify(row) !== JSON.stringify(again) || row.cleanup.length) return undefined;
      return JSON.stringify(held.sort()) === JSON.stringify([...row.replicas].sort()) ? row : undefined;
    }, SLACK_MS));

  it("/status counts objects and bytes per tier and shows every queue", async () => {
    const before = await statusOf(base);
    expect(before.tiers.map((t) => t.tier).sort()).toEqual(["cold", "hot", "trash"]);
    expect(tierOf(before, "hot")).toEqual({ objects: 0, bytes: 0 });
    for (const name of ["demote", "promote", "trash", "purge"]) {
      const qs = queueOf(before, name);
      for (const n of [qs.waiting, qs.delayed, qs.active, qs.failed]) expect(Number.isInteger(n) && n >= 0).toBe(true);
    }
    expect(before.nodes.map((n) => n.id).sort()).toEqual([...nodes.allNodeIds].sort());

    expect((await upload(base, "status/a", randomBytes(1000))).status).toBe(201);
    expect((await upload(base, "status/b", randomBytes(300 * 1024))).status).toBe(201);
    let s = await statusOf(base);
    expect(tierOf(s, "hot")).toEqual({ objects: 2, bytes: 1000 + 300 * 1024 });
    expect(tierOf(s, "trash")).toEqual({ objects: 0, bytes: 0 });

    expect((await remove(base, "status/a")).status).toBe(200);
    s = await statusOf(base);
    expect(tierOf(s, "hot")).toEqual({ objects: 1, bytes: 300 * 1024 });
    expect(tierOf(s, "trash")).toEqual({ objects: 1, bytes: 1000 });

    // Nothing is read, so both demote after the hot TTL: the cold count follows.
    await waitTier("status/b", "cold");
    s = await statusOf(base);
    expect(tierOf(s, "cold")).toEqual({ objects: 1, bytes: 300 * 1024 });
    expect(tierOf(s, "hot").objects).toBe(0);
  });

  it("hot → cold after the idle TTL, cold read streams from backup, promotion back to hot, idle clock restarts", async () => {
    const big = randomBytes(1024 * 1024 + 17); // streamed path (over one chunk)
    const small = randomBytes(10 * 1024); // small-body path
    const bigUp = await upload(base, "cycle/big", big);
    const smallUp = await upload(base, "cycle/small", small);
    const uploadedAt = Date.now();
    expect([bigUp.status, smallUp.status]).toEqual([201, 201]);
    const bigV = JSON.parse(bigUp.body.toString()).versionId as string;

    const hot = (await statOf(base, "cycle/big"))!;
    expect(hot.tier).toBe("hot");
    expect(hot.replicas).toHaveLength(2);
    expect(hot.replicas.every((id) => storage.includes(id))).toBe(true);
    for (const id of hot.replicas) expect((await nodes.blobOn(id, bigV))!.sha256.toString("hex")).toBe(sha256Hex(big));

    // No reads: both must go cold, not before the TTL.
    const cold = await waitTier("cycle/big", "cold");
    expect(Date.now() - uploadedAt).toBeGreaterThanOrEqual(HOT_TTL_MS - 100);
    expect(cold.replicas).toEqual(["backup-1"]);
    expect(cold.versionId).toBe(bigV);
    await waitTier("cycle/small", "cold");
    await waitHolders(bigV, ["backup-1"]);
    expect(await nodes.hashOn("backup-1", bigV)).toEqual({ size: big.length, sha256: sha256Hex(big) });
    expect(await nodes.backupCopies(bigV)).toEqual({ copies: 1, chunkBytes: big.length });

    // A cold read: served from the backup node, and it queues the promotion.
    const coldReadAt = Date.now();
    const fromCold = await retrieve(base, "cycle/big");
    expect(fromCold.status).toBe(200);
    expect(fromCold.headers.get("x-minis3-tier")).toBe("cold");
    expect(sha256Hex(fromCold.body)).toBe(sha256Hex(big));
    const smallCold = await retrieve(base, "cycle/small");
    expect(smallCold.headers.get("x-minis3-tier")).toBe("cold");
    expect(sha256Hex(smallCold.body)).toBe(sha256Hex(small));

    const promoted = await waitTier("cycle/big", "hot", SLACK_MS);
    expect(promoted.replicas.every((id) => storage.includes(id))).toBe(true);
    expect(Date.parse(promoted.lastAccessedAt)).toBeGreaterThanOrEqual(coldReadAt - 5);
    await waitHolders(bigV, promoted.replicas);
    await waitTier("cycle/small", "hot", SLACK_MS);

    const fromHot = await retrieve(base, "cycle/big");
    const hotReadAt = Date.now();
    expect(fromHot.headers.get("x-minis3-tier")).toBe("hot");
    expect(sha256Hex(fromHot.body)).toBe(sha256Hex(big));
    const smallHot = await retrieve(base, "cycle/small");
    expect(smallHot.headers.get("x-minis3-tier")).toBe("hot");
    expect(sha256Hex(smallHot.body)).toBe(sha256Hex(small));

    // The idle clock restarted at that read: cold again, but not before another full TTL.
    await waitTier("cycle/big", "cold");
    expect(Date.now() - hotReadAt).toBeGreaterThanOrEqual(HOT_TTL_MS - 100);
    const again = await retrieveHashed(base, "cycle/big");
    expect(again).toMatchObject({ status: 200, tier: "cold", size: big.length, sha256: sha256Hex(big) });
  });

  it("reads in a loop while objects are being demoted all return the right bytes", async () => {
    // Two sizes, two outcomes of the race: the 24 MiB copy outlasts the access-time flush, so the
    // reads usually win and the demotion backs out; the 2 MiB copy is quick, so the demotion
    // usually commits under the reads and they carry on from the cold tier (then promote).
    const objects = [
      { key: "busy/large", body: randomBytes(24 * 1024 * 1024) },
      { key: "busy/small", body: randomBytes(2 * 1024 * 1024) },
    ].map((o) => ({ ...o, want: sha256Hex(o.body), versionId: "" }));
    for (const o of objects) o.versionId = JSON.parse((await upload(base, o.key, o.body)).body.toString()).versionId;

    // Start reading only once a demotion job is running (reads before that would just postpone it).
    const sawActive = await withLogs(waitFor("a demotion to start", async () => {
      const s = await statusOf(base);
      if (queueOf(s, "demote").active > 0) return "active";
      return (await statOf(base, "busy/small"))?.tier === "cold" ? "already cold" : undefined;
    }, HOT_TTL_MS + SLACK_MS, 20));

    const end = Date.now() + 4000;
    const results = await Promise.all(objects.map(async (o) => {
      const reads: { status: number; sha256: string; tier: string | null; error?: string }[] = [];
      while (Date.now() < end) {
        const r = await retrieveHashed(base, o.key);
        reads.push({ status: r.status, sha256: r.sha256, tier: r.tier, error: r.error });
      }
      return reads;
    }));
    const summary: string[] = [];
    for (const [i, o] of objects.entries()) {
      expect(results[i].length).toBeGreaterThan(2);
      const bad = results[i].filter((r) => r.status !== 200 || r.sha256 !== o.want);
      if (bad.length) {
        throw new Error(`${o.key}: ${bad.length} of ${results[i].length} reads failed: ${JSON.stringify(bad.slice(0, 3))}; ` +
          `tiers ${results[i].map((r) => `${r.status}/${r.tier}`).join(",")}\ncoordinator log:\n${cluster.logs("coordinator", 40).join("\n")}`);
      }
      summary.push(`${o.key}: ${results[i].length} reads, tiers ${results[i].map((r) => r.tier).join(",")}`);
    }
    // Whichever way each race went, the copies on the nodes end up exactly where the catalogue says.
    await withLogs(waitFor("lifecycle queues idle", async () => queuesIdle(await statusOf(base)), SLACK_MS));
    for (const o of objects) {
      const row = await waitHoldersMatchCatalogue(o.versionId);
      expect(row.state).toBe("live");
      summary.push(`${o.key} ended ${row.tier}`);
    }
    process.stdout.write(`reads during demotion (${sawActive}): ${summary.join("; ")}\n`);
  });

  it("delete hides the object at once, moves the bytes to delete-1, and undelete restores them as hot", async () => {
    const body = randomBytes(300 * 1024);
    const up = await upload(base, "del/one", body);
    const v = JSON.parse(up.body.toString()).versionId as string;

    const del = await remove(base, "del/one");
    expect(del.status).toBe(200);
    expect((await retrieve(base, "del/one")).status).toBe(404);
    expect(await statOf(base, "del/one")).toBeNull();
    expect(await listedKeys(base, "del/")).toEqual([]);

    const [entry] = await trashOf(base, "del/one");
    expect(entry).toMatchObject({ key: "del/one", versionId: v, reason: "deleted", size: body.length });
    expect(Date.parse(entry.purgeAt) - Date.parse(entry.deletedAt)).toBe(TRASH_TTL_MS);

    await withLogs(waitFor("the trash move", async () => (await nodes.version(v))?.tier === "trash", SLACK_MS));
    expect((await nodes.version(v))!.replicas).toEqual(["delete-1"]);
    await waitHolders(v, ["delete-1"]);
    expect(await nodes.hashOn("delete-1", v)).toEqual({ size: body.length, sha256: sha256Hex(body) });

    const undo = await postJson(`${base}/undelete?key=del%2Fone`);
    expect(undo.status).toBe(200);
    expect(undo.json).toMatchObject({ key: "del/one", versionId: v, tier: "hot" });
    const back = await retrieve(base, "del/one");
    expect(back.status).toBe(200);
    expect(back.headers.get("x-minis3-tier")).toBe("hot");
    expect(sha256Hex(back.body)).toBe(sha256Hex(body));
    const s = (await statOf(base, "del/one"))!;
    expect(s.replicas).toHaveLength(2);
    expect(s.replicas.every((id) => storage.includes(id))).toBe(true);
    await waitHolders(v, s.replicas);
    expect(await trashOf(base, "del/one")).toEqual([]);
    expect(await listedKeys(base, "del/")).toEqual(["del/one"]);
  });

  it("an overwrite puts the old version in the trash; undelete brings back the old bytes", async () => {
    const first = randomBytes(5000);
    const second = randomBytes(7000);
    const v1 = JSON.parse((await upload(base, "ow/k", first)).body.toString()).versionId as string;
    const v2 = JSON.parse((await upload(base, "ow/k", second)).body.toString()).versionId as string;
    expect(sha256Hex((await retrieve(base, "ow/k")).body)).toBe(sha256Hex(second));

    const trash = await trashOf(base, "ow/");
    expect(trash).toHaveLength(1);
    expect(trash[0]).toMatchObject({ key: "ow/k", versionId: v1, reason: "overwritten", size: first.length });
    await waitHolders(v1, ["delete-1"]);

    const undo = await postJson(`${base}/undelete?key=ow%2Fk`);
    expect(undo.status).toBe(200);
    expect(undo.json).toMatchObject({ versionId: v1, tier: "hot" });
    const got = await retrieve(base, "ow/k");
    expect(got.headers.get("x-minis3-version-id")).toBe(v1);
    expect(sha256Hex(got.body)).toBe(sha256Hex(first));

    // The version it replaced is now the restorable one, and its bytes go to the trash node.
    const after = await trashOf(base, "ow/");
    expect(after.map((e) => [e.versionId, e.reason])).toEqual([[v2, "overwritten"]]);
    await waitHolders(v2, ["delete-1"]);
    await waitHolders(v1, (await statOf(base, "ow/k"))!.replicas);
  });

  it("a delete during a promotion stays deleted and leaves no hot copies behind", async () => {
    const body = randomBytes(16 * 1024 * 1024);
    const up = await upload(base, "promo/del", body);
    const v = JSON.parse(up.body.toString()).versionId as string;
    await waitTier("promo/del", "cold");
    await waitHolders(v, ["backup-1"]);

    // The cold read queues the promotion; the delete lands while it copies.
    const read = fetch(`${base}/retrieve?key=promo%2Fdel`);
    const res = await read;
    expect(res.headers.get("x-minis3-tier")).toBe("cold");
    await waitFor("the promotion to start", async () => {
      const q = queueOf(await statusOf(base), "promote");
      return q.active > 0 || q.waiting > 0 || undefined;
    }, 3000, 10).catch(() => undefined);
    const del = await remove(base, "promo/del");
    expect(del.status).toBe(200);
    // The read that began before the delete still gets the whole object.
    expect(sha256Hex(Buffer.from(await res.arrayBuffer()))).toBe(sha256Hex(body));

    for (let i = 0; i < 5; i++) {
      expect((await retrieve(base, "promo/del")).status).toBe(404);
      await sleep(200);
    }
    await withLogs(waitFor("lifecycle queues idle", async () => queuesIdle(await statusOf(base)), SLACK_MS));
    expect(await statOf(base, "promo/del")).toBeNull();
    const row = (await nodes.version(v))!;
    expect(row).toMatchObject({ state: "trash", tier: "trash", replicas: ["delete-1"], cleanup: [] });
    await waitHolders(v, ["delete-1"]);
    expect(await nodes.hashOn("delete-1", v)).toEqual({ size: body.length, sha256: sha256Hex(body) });
  });

  it("after the trash TTL the version is purged from every node and undelete answers 404", async () => {
    const body = randomBytes(200 * 1024);
    const up = await upload(base, "purge/k", body);
    const v = JSON.parse(up.body.toString()).versionId as string;
    expect((await remove(base, "purge/k")).status).toBe(200);
    const deletedAt = Date.now();
    await waitHolders(v, ["delete-1"]);

    await withLogs(waitFor("the purge", async () => (await nodes.version(v)) === null, TRASH_TTL_MS + SLACK_MS, 200));
    expect(Date.now() - deletedAt).toBeGreaterThanOrEqual(TRASH_TTL_MS - 100);
    expect(await nodes.blobOn("delete-1", v)).toBeNull();
    expect(await nodes.holders(v)).toEqual([]);
    expect(await trashOf(base, "purge/")).toEqual([]);
    const undo = await postJson(`${base}/undelete?key=purge%2Fk`);
    expect(undo.status).toBe(404);
    expect((await retrieve(base, "purge/k")).status).toBe(404);
  });

  it("/status tier totals match the catalogue", async () => {
    await withLogs(waitFor("lifecycle queues idle", async () => queuesIdle(await statusOf(base)), SLACK_MS));
    const s = await statusOf(base);
    const expected = { hot: { objects: 0, bytes: 0 }, cold: { objects: 0, bytes: 0 }, trash: { objects: 0, bytes: 0 } };
    for (const key of ["status/b", "cycle/big", "cycle/small", "busy/large", "busy/small", "del/one", "ow/k"]) {
      const st = (await statOf(base, key))!;
      expected[st.tier].objects++;
      expected[st.tier].bytes += st.size;
    }
    for (const e of await trashOf(base, "")) {
      expected.trash.objects++;
      expected.trash.bytes += e.size;
    }
    // Cold/hot may flip between the two reads if a demotion comes due; totals per state cannot.
    const live = (t: typeof expected) => t.hot.objects + t.cold.objects;
    expect(live({ hot: tierOf(s, "hot"), cold: tierOf(s, "cold"), trash: tierOf(s, "trash") })).toBe(live(expected));
    expect(tierOf(s, "hot").bytes + tierOf(s, "cold").bytes).toBe(expected.hot.bytes + expected.cold.bytes);
    expect(tierOf(s, "trash")).toEqual(expected.trash);
  });
});
