import pino from "pino";
import { PrivateRedis } from "../../../test/support/private-redis";
import { closeQueues, createQueues, pendingRedisCommands, redisConnection, type LifecycleQueues } from "./queues";
import { Scheduler } from "./scheduler";

// While Redis is away, job adds must not pile up in ioredis's offline queue: 20,000 deletes and
// uploads' worth of adds keep the queues' pending commands bounded, and adds work again once Redis
// is back (issue 12 item 9, review finding 19; the reconciler re-queues what was dropped).

let redis: PrivateRedis;
let queues: LifecycleQueues;
let scheduler: Scheduler;
const log = pino({ level: "silent" });

beforeAll(async () => {
  redis = await PrivateRedis.create();
  queues = createQueues(redisConnection(redis.url), `{q${process.pid}}`, log);
  scheduler = new Scheduler(queues.byName, log);
  // Connected before the outage, as a running coordinator is.
  await Promise.all(Object.values(queues.byName).map((q) => q.waitUntilReady()));
}, 30_000);

afterAll(async () => {
  await redis.start();
  await closeQueues(queues);
  await redis.stop();
});

const turn = () => new Promise((r) => setImmediate(r));

test("20,000 adds while Redis is stopped leave the pending commands bounded; adds work again after", async () => {
  await redis.stop();
  let most = 0;
  for (let i = 0; i < 20_000; i++) {
    scheduler.add(i % 2 ? "trash" : "repair", `v${i.toString(16).padStart(26, "0")}`);
    if (i % 500 === 499) {
      await turn(); // the scheduler flushes once per event-loop turn
      most = Math.max(most, await pendingRedisCommands(queues));
    }
  }
  await new Promise((r) => setTimeout(r, 200));
  most = Math.max(most, await pendingRedisCommands(queues));
  // Offline, each add would wait in memory until Redis came back: 20,000 here.
  expect(most).toBeLessThan(1000);

  await redis.start();
  const trash = queues.byName.trash;
  await trash.waitUntilReady();
  await new Promise((r) => setTimeout(r, 1500)); // ioredis reconnects within a second
  scheduler.add("trash", "after-redis-returned");
  await turn();
  const deadline = Date.now() + 10_000;
  while (!(await trash.getJob("trash|after-redis-returned").catch(() => undefined)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await trash.getJob("trash|after-redis-returned")).toBeDefined();
}, 60_000);
