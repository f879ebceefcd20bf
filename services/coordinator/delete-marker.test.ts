import { silentLog } from "../rpc/testing/test-helpers";
import { deleteObject } from "./api/s3/object-ops";
import type { S3Deps } from "./api/s3/router";
import { Catalogue } from "./catalogue/catalogue";
import { throwawayCatalogueDatabase } from "./catalogue/testing/throwaway-database";
import type { JobContext } from "./lifecycle/jobs/job";
import { undelete } from "./lifecycle/undelete";
import type { ObjectEngine } from "./objects/object-engine";
import type { ObjectStore } from "./objects/object-store";
import { putRandom, storeOnNodes } from "./objects/testing/store-on-nodes";
import { startNodes, type InProcessNodes } from "./replicas/testing/in-process-nodes";

// S3's DeleteObject naming a delete marker (ours are views of the trash: `<versionId>.deleted`)
// undeletes its version, through the front door, the engine and the lifecycle's undelete over a
// real MariaDB; two engines over one catalogue stand for two coordinators. Here, beside serve.ts,
// as it wires the three layers the engine keeps apart.

const CHUNK = 64 * 1024;
const db = throwawayCatalogueDatabase();

let nodes: InProcessNodes;
let here: ObjectStore;
let there: ObjectStore;

/**
 * The lifecycle's undelete over `catalogue`. No lifecycle runs here, so trashed versions stay hot
 * and an undelete restores them in place: it needs only the catalogue of a job's context.
 */
const hotUndeleter = (catalogue: Catalogue) => ({
  undelete: (bucket: string, key: string, requestId: string | undefined, onlyVersion?: string) =>
    undelete(
      { catalogue, scheduler: { add: () => undefined }, log: silentLog, requestId } as unknown as JobContext,
      bucket,
      key,
      onlyVersion,
    ),
});

beforeAll(async () => {
  nodes = await startNodes([{ id: "s1" }, { id: "s2" }], CHUNK);
  const catalogues = [new Catalogue(db.pool(), 60_000), new Catalogue(db.pool(), 60_000)];
  const opts = { replicas: 2, writeQuorum: 2, chunkSize: CHUNK };
  here = storeOnNodes(nodes, catalogues[0], { ...opts, undeleter: hotUndeleter(catalogues[0]) });
  there = storeOnNodes(nodes, catalogues[1], { ...opts, undeleter: hotUndeleter(catalogues[1]) });
});
afterAll(async () => {
  await here.close();
  await there.close();
  await nodes.close();
});

const put = (engine: ObjectStore, key: string) => putRandom(engine, "race", key);

test("removing a key's latest delete marker brings its version back, once; an older marker, or one under a visible version, is NotImplemented", async () => {
  const deps = { engine: here } as unknown as S3Deps;
  const outcome = (versionId: string) =>
    deleteObject(deps, "race", "marker", "0000000000000006", versionId).then(
      (headers) => headers,
      (e: unknown) => (e as { code?: string }).code,
    );
  const first = await put(here, "marker");
  await here.delete("race", "marker", "0000000000000007");
  const second = await put(here, "marker");
  await here.delete("race", "marker", "0000000000000008");
  // The older deletion's marker is not the key's latest entry.
  expect(await outcome(`${first.versionId}.deleted`)).toBe("NotImplemented");
  expect(await here.head("race", "marker").catch((e: { code?: string }) => e.code)).toBe("NoSuchKey");

  expect(await outcome(`${second.versionId}.deleted`)).toEqual({
    "x-amz-delete-marker": "true",
    "x-amz-version-id": `${second.versionId}.deleted`,
  });
  expect((await here.head("race", "marker")).versionId).toBe(second.versionId);
  const trash = await here.listTrash("race", "marker", 10, "");
  // Sent again: the marker is gone, nothing changes.
  expect(await outcome(`${second.versionId}.deleted`)).toMatchObject({ "x-amz-delete-marker": "true" });
  expect((await here.head("race", "marker")).versionId).toBe(second.versionId);
  expect(await here.listTrash("race", "marker", 10, "")).toEqual(trash);
  // With a visible version, the older marker is not the latest entry either: the current version stays.
  expect(await outcome(`${first.versionId}.deleted`)).toBe("NotImplemented");
  expect((await here.head("race", "marker")).versionId).toBe(second.versionId);
});

test("removing a delete marker never hides a version committed meanwhile through another coordinator", async () => {
  const gone = await put(here, "m2");
  await here.delete("race", "m2", "0000000000000009");
  let newer: string | undefined;
  const engine = Object.create(here) as ObjectEngine;
  engine.undelete = async (...args: Parameters<ObjectEngine["undelete"]>) => {
    newer = (await put(there, "m2")).versionId;
    return here.undelete(...args);
  };
  const err = await deleteObject({ engine } as unknown as S3Deps, "race", "m2", "0000000000000010", `${gone.versionId}.deleted`).then(
    () => undefined,
    (e: unknown) => (e as { code?: string }).code,
  );
  expect(err).toBe("NotImplemented");
  expect((await here.head("race", "m2")).versionId).toBe(newer);
});
