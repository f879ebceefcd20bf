import { Catalogue } from "../catalogue/catalogue";
import { throwawayCatalogueDatabase } from "../catalogue/testing/throwaway-database";
import type { ObjectEngine } from "./object-engine";
import type { ObjectStore } from "./object-store";
import { putRandom, storeOnNodes } from "./testing/store-on-nodes";
import { startNodes, type InProcessNodes } from "../replicas/testing/in-process-nodes";
import { deleteObject } from "../api/s3/object-ops";
import type { S3Deps } from "../api/s3/router";
import type { S3Error } from "../api/s3/s3-errors";

// DeleteObject with a versionId against a PUT of the same key that commits through another
// coordinator while the delete is under way (after the request named the version, before the
// delete commits). The delete must trash only the version it named: the newer upload stays.
// Two engines over one catalogue database (two coordinators), real MariaDB and in-process nodes.

const CHUNK = 64 * 1024;
const db = throwawayCatalogueDatabase();

let nodes: InProcessNodes;
let here: ObjectStore;
let there: ObjectStore;

beforeAll(async () => {
  nodes = await startNodes([{ id: "s1" }, { id: "s2" }], CHUNK);
  here = storeOnNodes(nodes, new Catalogue(db.pool(), 60_000), { replicas: 2, writeQuorum: 2, chunkSize: CHUNK });
  there = storeOnNodes(nodes, new Catalogue(db.pool(), 60_000), { replicas: 2, writeQuorum: 2, chunkSize: CHUNK });
});
afterAll(async () => {
  await here.close();
  await there.close();
  await nodes.close();
});

const put = (engine: ObjectStore, key: string) => putRandom(engine, "race", key);

/**
 * `here`, with the other coordinator's PUT of `key` committed at the first step the delete takes
 * on the catalogue: after a lookup of the key answered, or before a delete begins. `newer` is the
 * version that PUT made.
 */
function withPutMidway(key: string): { engine: ObjectEngine; newer: () => Promise<string> } {
  let newer: Promise<string> | undefined;
  const putOnce = () => (newer ??= put(there, key).then((v) => v.versionId));
  const engine = Object.create(here) as ObjectEngine;
  engine.head = async (b, k) => {
    const v = await here.head(b, k);
    await putOnce();
    return v;
  };
  engine.delete = async (...args: Parameters<ObjectEngine["delete"]>) => {
    await putOnce();
    return here.delete(...args);
  };
  return { engine, newer: () => newer ?? Promise.reject(new Error("the PUT never ran")) };
}

test("a DeleteObject naming the current version never trashes a newer version committed meanwhile", async () => {
  const old = await put(here, "k");
  const { engine, newer } = withPutMidway("k");
  const err = await deleteObject({ engine } as unknown as S3Deps, "race", "k", "0000000000000001", old.versionId).then(
    () => undefined,
    (e: unknown) => e,
  );
  // The newer upload is still the key's version; the one named was replaced by it (it is in the
  // trash now), and deleting a version in the trash is NotImplemented here.
  expect((await here.head("race", "k").catch(() => undefined))?.versionId).toBe(await newer());
  expect((err as S3Error | undefined)?.code).toBe("NotImplemented");
});

test("without a race: the named current version is deleted; an older one is NotImplemented; an unknown one NoSuchKey", async () => {
  const deps = { engine: here } as unknown as S3Deps;
  const older = await put(here, "plain");
  const cur = await put(here, "plain");
  const errorOf = (versionId: string) =>
    deleteObject(deps, "race", "plain", "0000000000000002", versionId).then(
      () => undefined,
      (e: unknown) => (e as { code?: string }).code,
    );
  expect(await errorOf(older.versionId)).toBe("NotImplemented");
  expect(await errorOf(`${cur.versionId}.deleted`)).toBeUndefined(); // no such marker: the version is current
  expect(await errorOf("0".repeat(28))).toBe("NoSuchKey");
  expect(await errorOf("not-a-version")).toBe("NoSuchKey");
  expect((await here.head("race", "plain")).versionId).toBe(cur.versionId);
  expect(await errorOf(cur.versionId)).toBeUndefined();
  expect(await here.head("race", "plain").catch((e: { code?: string }) => e.code)).toBe("NoSuchKey");
});

test("a DeleteObject naming a version, retried after it succeeded, succeeds again and changes nothing", async () => {
  // A client whose answer was lost sends the same DELETE again: AWS answers 204, as the version is
  // gone from the key either way. A version that was replaced (not deleted) stays NotImplemented.
  const deps = { engine: here } as unknown as S3Deps;
  const replaced = await put(here, "retry");
  const cur = await put(here, "retry");
  await deleteObject(deps, "race", "retry", "0000000000000003", cur.versionId);
  const trashed = await here.listTrash("race", "retry", 10, "");
  await expect(deleteObject(deps, "race", "retry", "0000000000000004", cur.versionId)).resolves.toEqual({
    "x-amz-version-id": cur.versionId,
  });
  await expect(deleteObject(deps, "race", "retry", "0000000000000005", replaced.versionId)).rejects.toMatchObject({
    code: "NotImplemented",
  });
  expect(await here.listTrash("race", "retry", 10, "")).toEqual(trashed);
  expect(await here.head("race", "retry").catch((e: { code?: string }) => e.code)).toBe("NoSuchKey");
});
