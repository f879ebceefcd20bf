import { createConnection } from "mysql2/promise";
import pino from "pino";
import { ErrorCode, hasCode } from "../../common/errors";
import type { Catalogue } from "../catalogue/catalogue";
import { ObjectStore, type ObjectStoreDeps } from "./object-store";

// While MariaDB is away, reads, deletes and listings fail with CatalogueUnavailable (503 /
// UNAVAILABLE), not with the raw driver error (500 / INTERNAL): issue 12 item 9, review finding 19.
// The whole path, with a private MariaDB stopped and started, is test/integration/catalogue-outage.test.ts.

/** The error mysql2 gives when MariaDB is not there (nothing listens on port 1). */
async function refusedError(): Promise<unknown> {
  return createConnection({ host: "127.0.0.1", port: 1, user: "root" }).then(
    () => {
      throw new Error("something listens on port 1");
    },
    (e: unknown) => e,
  );
}

function storeOver(fail: () => Promise<never>): ObjectStore {
  const catalogue = {
    current: fail,
    markDeleted: fail,
    list: fail,
    listTrash: fail,
    clock: { now: fail },
  } as unknown as Catalogue;
  const deps = { catalogue, undeleter: { undelete: fail }, log: pino({ level: "silent" }) } as unknown as ObjectStoreDeps;
  return new ObjectStore(deps, { replicas: 2, writeQuorum: 2, maxObjectSize: 1 << 20, chunkSize: 1 << 16, hotTtlMs: 30 * 60_000 });
}

const calls = (s: ObjectStore): [string, () => Promise<unknown>][] => [
  ["get", () => s.get("default", "k", undefined, undefined)],
  ["head", () => s.head("default", "k")],
  ["delete", () => s.delete("default", "k", undefined)],
  ["list", () => s.list("default", "", 10, "")],
  ["listTrash", () => s.listTrash("default", "", 10, "")],
  ["undelete", () => s.undelete("default", "k", undefined)],
];

test("every read, delete and listing answers CatalogueUnavailable when MariaDB refuses the connection", async () => {
  const refused = await refusedError();
  const store = storeOver(() => Promise.reject(refused));
  try {
    for (const [name, call] of calls(store)) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect([name, hasCode(err, ErrorCode.CatalogueUnavailable)]).toEqual([name, true]);
    }
  } finally {
    await store.close();
  }
});

test("an error that is not about MariaDB being away is passed on as it is (a bug stays a 500)", async () => {
  const bug = new TypeError("a bug");
  const store = storeOver(() => Promise.reject(bug));
  try {
    for (const [, call] of calls(store)) await expect(call()).rejects.toBe(bug);
  } finally {
    await store.close();
  }
});
