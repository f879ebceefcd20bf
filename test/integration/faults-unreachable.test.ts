import { createServer, type Server, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { seededBytes, sha256 } from "../support/bodies";
import { retrieve, upload } from "../support/http";

// A storage node that is alive and heartbeats into MariaDB, but that the coordinator cannot reach
// (correctness review, finding 9): storage-3 publishes an address where a listener takes TCP
// connections and never answers, as a black hole past the handshake would. Once the coordinator has
// seen it fail, uploads (small and 2 MiB) must all succeed without paying its deadlines again.

const MiB = 1024 * 1024;
/** An upload this slow paid a node deadline (10 s); a healthy one on a busy machine takes well under 1 s. */
const SLOW_MS = 5_000;

let tarpit: Server;
const held = new Set<Socket>();
let cluster: TestCluster;

beforeAll(async () => {
  tarpit = createServer((s) => {
    held.add(s);
    s.on("error", () => undefined);
    s.on("close", () => held.delete(s));
  });
  await new Promise<void>((resolve) => tarpit.listen(0, "127.0.0.1", resolve));
  const address = `127.0.0.1:${(tarpit.address() as { port: number }).port}`;
  cluster = await startCluster({ processEnv: { "storage-3": { MINIS3_NODE_ADDRESS: address } } });
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
  for (const s of held) s.destroy();
  await new Promise<void>((resolve) => tarpit.close(() => resolve()));
}, 30_000);

interface Result {
  key: string;
  body: Buffer;
  status: number;
  ms: number;
  /** The error body of a failed upload (what to look at when one fails). */
  error?: string;
}

/** Uploads every body, `concurrency` at a time; each with its status and time. */
async function uploadAll(bodies: Map<string, Buffer>, concurrency: number): Promise<Result[]> {
  const queue = [...bodies];
  const results: Result[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [key, body] = next;
        const t0 = performance.now();
        const res = await upload(cluster.httpUrl, key, body);
        const error = res.status === 201 ? undefined : res.body.toString().slice(0, 300);
        results.push({ key, body, status: res.status, ms: performance.now() - t0, error });
      }
    }),
  );
  return results;
}

const bodiesOf = (prefix: string, n: number, size: (i: number) => number) =>
  new Map(Array.from({ length: n }, (_, i) => [`${prefix}/${i}`, seededBytes(`${prefix}/${i}`, size(i))]));

test("uploads to a cluster with a node alive but unreachable all succeed, and only the first ones pay its deadline", async () => {
  // The first uploads whose keys go to storage-3 wait for its deadline, then fall over to the others.
  const first = await uploadAll(
    bodiesOf("first", 12, (i) => (i % 4 === 0 ? 2 * MiB : 1000 + i)),
    12,
  );
  // From then on the coordinator routes around it, whatever its heartbeats say.
  const then = await uploadAll(
    bodiesOf("then", 48, (i) => (i % 4 === 0 ? 2 * MiB : 2000 + i)),
    4,
  );
  const figures = (rs: Result[]) =>
    `${rs.filter((r) => r.status !== 201).length} failed, ${rs.filter((r) => r.ms > SLOW_MS).length} of ${rs.length} over ${SLOW_MS} ms, ` +
    `slowest ${Math.round(Math.max(...rs.map((r) => r.ms)))} ms`;
  process.stderr.write(`faults-unreachable: first uploads ${figures(first)}; then ${figures(then)}\n`);

  const failed = (rs: Result[]) => rs.filter((r) => r.status !== 201).map((r) => `${r.key}: ${r.status} ${r.error}`);
  expect(failed(first)).toEqual([]);
  expect(failed(then)).toEqual([]);
  expect(then.filter((r) => r.ms > SLOW_MS).length).toBeLessThanOrEqual(1);

  for (const { key, body } of [...first, ...then]) {
    const got = await retrieve(cluster.httpUrl, key);
    expect(got.status).toBe(200);
    expect(sha256(got.body)).toBe(sha256(body));
  }
}, 120_000);
