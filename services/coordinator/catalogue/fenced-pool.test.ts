import type { Pool } from "mysql2/promise";
import { inTransaction } from "../../common/db/transaction";
import { ErrorCode, MiniS3Error } from "../../common/errors";
import { fencedPool, type WriteFence } from "./fenced-pool";

// The fence is asked only once a write holds its connection (waiting for one is where a stall
// would let a write admitted long ago land late), and again at a multi-round-trip COMMIT.

function setup() {
  const events: string[] = [];
  let open = true;
  let ready = false;
  let connReady: () => void = () => undefined;
  /** What the fence does when a refused write waits on it: nothing by default (the lease stays lapsed). */
  let onWritable: () => void = () => undefined;
  const conn = {
    query: async (sql: string) => {
      events.push(`query ${sql}`);
      return [[]];
    },
    execute: async (sql: string) => {
      events.push(`execute ${sql}`);
      return [[]];
    },
    beginTransaction: async () => void events.push("begin"),
    commit: async () => void events.push("commit"),
    rollback: async () => void events.push("rollback"),
    release: () => void events.push("release"),
  };
  const pool = {
    getConnection: () =>
      new Promise((resolve) => {
        connReady = () => {
          ready = true;
          events.push("connection");
          resolve(conn);
        };
        if (ready) connReady(); // only the first waits
      }),
  } as unknown as Pool;
  const fence: WriteFence = {
    admit: () => {
      events.push(open ? "admit" : "refuse");
      if (!open) throw new MiniS3Error(ErrorCode.CatalogueUnavailable, "lease lapsed");
      return 0;
    },
    settled: () => void events.push("settled"),
    writable: async () => {
      events.push("writable");
      onWritable();
    },
  };
  return {
    events,
    fenced: fencedPool(pool, fence),
    connReady: () => connReady(),
    close: () => (open = false),
    rejoinOnWait: () => (onWritable = () => (open = true)),
  };
}

test("a statement is admitted once it holds its connection, right before it is sent", async () => {
  const { events, fenced, connReady } = setup();
  const done = fenced.execute("UPDATE versions SET replicas = ?", ["a"]);
  await new Promise((r) => setImmediate(r));
  expect(events).toEqual([]); // still waiting for a connection: nothing admitted yet
  connReady();
  await done;
  expect(events).toEqual(["connection", "admit", "execute UPDATE versions SET replicas = ?", "release", "settled"]);
});

test("a statement refused by the fence is not sent: its connection goes back, it waits once for the fence, then is refused", async () => {
  const { events, fenced, connReady, close } = setup();
  close();
  const done = fenced.query("DELETE FROM versions");
  connReady();
  await expect(done).rejects.toMatchObject({ code: ErrorCode.CatalogueUnavailable });
  expect(events).toEqual(["connection", "refuse", "release", "writable", "connection", "refuse", "release"]);
});

test("a statement refused for a lapsed lease waits, without a connection, for the re-join, then is admitted and sent", async () => {
  const { events, fenced, connReady, close, rejoinOnWait } = setup();
  close();
  rejoinOnWait(); // MariaDB is back: the heartbeat the write asks for lands
  const done = fenced.execute("UPDATE versions SET replicas = ?", ["a"]);
  connReady();
  await done;
  expect(events).toEqual([
    ...["connection", "refuse", "release", "writable"],
    ...["connection", "admit", "execute UPDATE versions SET replicas = ?", "release", "settled"],
  ]);
});

test("a transaction whose lease lapses before its COMMIT is rolled back", async () => {
  const { events, fenced, connReady, close } = setup();
  const done = inTransaction(fenced, async (c) => {
    await c.execute("UPDATE objects SET version_id = ?", ["v2"]);
    close(); // the coordinator stalls here, past its lease
  });
  connReady();
  await expect(done).rejects.toMatchObject({ code: ErrorCode.CatalogueUnavailable });
  expect(events).toEqual([
    "connection",
    "admit",
    "begin",
    "execute UPDATE objects SET version_id = ?",
    "refuse",
    "rollback",
    "release",
    "settled",
  ]);
});
