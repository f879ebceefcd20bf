import { Queue, type ConnectionOptions, type JobsOptions } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../../common/logger";
import { JOBS, type JobName } from "./jobs";
import type { TransitionJob } from "./jobs/job";

export type { TransitionJob };

/** One queue per lifecycle job (jobs/index.ts), so /status shows each one's depth. */
export type QueueName = JobName;
export const QUEUE_NAMES: readonly QueueName[] = JOBS.map((j) => j.name);

/**
 * Job ids come from the version (and, for demotion, the due time), so queueing the same
 * transition twice is a no-op in Redis. BullMQ forbids ':' in custom ids; ours are hex and '|'.
 */
export function jobId(queue: QueueName, versionId: string, dueMs?: number): string {
  return dueMs === undefined ? `${queue}|${versionId}` : `${queue}|${versionId}|${dueMs}`;
}

export const JOB_OPTIONS: JobsOptions = {
  attempts: 6,
  backoff: { type: "exponential", delay: 500 },
  removeOnComplete: true,
  // Failed jobs stay visible in /status; the reconciler retries them.
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
};

export function redisConnection(url: string): ConnectionOptions {
  const u = new URL(url);
  return {
    host: u.hostname || "127.0.0.1",
    port: Number(u.port || 6379),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === "rediss:" ? {} : undefined,
    maxRetriesPerRequest: null,
    // Reconnect within a second after a Redis restart (the default backs off to 20 s).
    retryStrategy: (times: number) => Math.min(times * 100, 1000),
  };
}

/**
 * A Redis client of its own for the read caches' invalidation bus (cluster/invalidation-bus.ts),
 * on the queues' server. Publishes fail at once while Redis is away and after 1 s without an answer,
 * and are never sent again after a reconnect: the bus then waits out the caches' lease instead,
 * which a publish landing late would undo. The subscriber queues its SUBSCRIBE until connected and
 * subscribes again after each reconnect.
 */
export function redisClient(url: string, role: "publish" | "subscribe"): Redis {
  const options = redisConnection(url) as RedisOptions; // what redisConnection builds: host, port, retry…
  if (role === "subscribe") return new Redis(options);
  return new Redis({ ...options, enableOfflineQueue: false, commandTimeout: 1000, autoResendUnfulfilledCommands: false });
}

/** The lifecycle's queues and the Redis they live in: the scheduler adds to them, the workers take from them. */
export interface LifecycleQueues {
  readonly connection: ConnectionOptions;
  readonly prefix: string;
  readonly byName: Record<QueueName, Queue<TransitionJob>>;
}

export function createQueues(connection: ConnectionOptions, prefix: string, log: Logger): LifecycleQueues {
  const byName = {} as Record<QueueName, Queue<TransitionJob>>;
  // Adds fail at once while Redis is away instead of waiting in ioredis's offline queue, which has
  // no bound: every upload and delete would add to it until Redis returned. Dropping is safe: the
  // catalogue is the truth and the reconciler queues what is due. (Workers keep their own
  // connections, which must wait: BullMQ requires maxRetriesPerRequest null there, STACK.md §4.)
  const adding = { ...connection, enableOfflineQueue: false };
  for (const name of QUEUE_NAMES) {
    const q = (byName[name] = new Queue<TransitionJob>(name, { connection: adding, prefix, defaultJobOptions: JOB_OPTIONS }));
    q.on("error", (e) => log.warn({ err: e }, "queue error"));
  }
  return { connection, prefix, byName };
}

export async function closeQueues(queues: LifecycleQueues): Promise<void> {
  await Promise.all(Object.values(queues.byName).map((q) => q.close()));
}

/** Commands the queues' Redis clients hold that Redis has not answered (sent, or waiting offline). */
export async function pendingRedisCommands(queues: LifecycleQueues): Promise<number> {
  let n = 0;
  for (const q of Object.values(queues.byName)) {
    const c = (await q.backend.client) as unknown as { offlineQueue?: { length: number }; commandQueue?: { length: number } };
    n += (c.offlineQueue?.length ?? 0) + (c.commandQueue?.length ?? 0);
  }
  return n;
}
