import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { PrivateMariaDb } from "../support/private-mariadb";
import { waitFor } from "../support/wait";

// Readiness (issue 15 item 2): GET /readyz on the facade and the standard gRPC health service on the
// coordinator's gRPC port and every node's, as a probe sees them: no credentials, no cluster secret,
// the health proto loaded with proto-loader (not our generated code), against a real cluster whose
// MariaDB is its own so it can be stopped.

interface Readyz {
  status: string;
  ready: boolean;
  failed: string[];
  checks: Record<string, { ok: boolean; error?: string; liveStorageNodes?: number; writeQuorum?: number }>;
}

type HealthClient = grpc.Client & {
  Check(req: { service: string }, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: { status: string }) => void): void;
  Watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

const definition = protoLoader.loadSync(join(__dirname, "../../proto/grpc/health/v1/health.proto"), { enums: String });
const Health = (
  grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }
).grpc.health.v1.Health;

let db: PrivateMariaDb;
let cluster: TestCluster;
const clients: grpc.Client[] = [];

function healthClient(address: string): HealthClient {
  const c = new Health(address, grpc.credentials.createInsecure()) as unknown as HealthClient;
  clients.push(c);
  return c;
}

/** The status a Check answers, or the gRPC code it failed with. */
function check(address: string, service = ""): Promise<string> {
  return new Promise((resolve) => {
    healthClient(address).Check({ service }, { deadline: Date.now() + 10_000 }, (e, r) =>
      resolve(e ? `code ${grpc.status[e.code]}` : (r?.status ?? "none")),
    );
  });
}

async function readyz(): Promise<{ code: number; body: Readyz }> {
  const res = await fetch(`${cluster.httpUrl}/readyz`, { signal: AbortSignal.timeout(10_000) }); // no credentials
  return { code: res.status, body: (await res.json()) as Readyz };
}

/** /readyz once it answers 503. */
const unready = () =>
  waitFor(
    "/readyz 503",
    async () => {
      const x = await readyz();
      return x.code === 503 && x;
    },
    30_000,
    250,
  );

const address = (name: string) => cluster.specs.find((s) => s.name === name)!.address;

beforeAll(async () => {
  db = await PrivateMariaDb.create();
  cluster = await startCluster({ storageNodes: 3, mysqlUrl: db.url });
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await db?.start().catch(() => undefined); // the cluster's stop drops its database
  await cluster?.stop().catch(() => undefined);
  await db?.destroy();
}, 60_000);

test("a healthy cluster is ready: /readyz 200 naming each check, gRPC health SERVING on the coordinator and on every node", async () => {
  const r = await readyz();
  expect(r.code).toBe(200);
  expect(r.body).toMatchObject({ status: "ready", ready: true, failed: [] });
  expect(r.body.checks.database.ok).toBe(true);
  expect(r.body.checks.redis.ok).toBe(true);
  expect(r.body.checks.writeQuorum).toMatchObject({ ok: true, liveStorageNodes: 3, writeQuorum: 2 });

  expect(await check(cluster.grpcAddress)).toBe("SERVING");
  expect(await check(cluster.grpcAddress, "minis3.v1.ObjectService")).toBe("SERVING");
  expect(await check(cluster.grpcAddress, "no.such.Service")).toBe("code NOT_FOUND");
  // Nodes require the cluster secret on every call, but not on health: probes carry none.
  for (const node of ["storage-1", "backup-1", "delete-1"]) {
    expect(await check(address(node))).toBe("SERVING");
    expect(await check(address(node), "minis3.v1.NodeService")).toBe("SERVING");
  }
}, 60_000);

test("with fewer storage nodes than a write quorum: /readyz 503 naming the quorum, gRPC NOT_SERVING (a Watch sees the change)", async () => {
  const watch = healthClient(cluster.grpcAddress).Watch({ service: "" });
  const seen: string[] = [];
  watch.on("data", (m: { status: string }) => seen.push(m.status));
  watch.on("error", () => undefined); // cancelled at the end
  await waitFor("the Watch's first answer", async () => seen.length > 0, 10_000);
  expect(seen).toEqual(["SERVING"]);

  await cluster.stopNode("storage-2");
  await cluster.stopNode("storage-3");
  const r = await unready();
  expect(r.body).toMatchObject({ status: "unavailable", ready: false, failed: ["writeQuorum"] });
  expect(r.body.checks.writeQuorum).toMatchObject({ ok: false, liveStorageNodes: 1, writeQuorum: 2 });
  expect(r.body.checks.writeQuorum.error).toMatch(/1 storage node\(s\) live, a write needs 2/);
  expect(await check(cluster.grpcAddress)).toBe("NOT_SERVING");
  await waitFor("the Watch to report NOT_SERVING", async () => seen.includes("NOT_SERVING"), 20_000);
  watch.cancel();

  cluster.startNode("storage-2");
  cluster.startNode("storage-3");
  await waitFor("/readyz 200 again", async () => (await readyz()).code === 200, 60_000, 250);
  expect(await check(cluster.grpcAddress)).toBe("SERVING");
}, 120_000);

test("with MariaDB stopped: /readyz 503 naming the database, the coordinator and the backup node NOT_SERVING; ready again once it is back", async () => {
  await db.stop();
  const r = await unready();
  expect(r.body.failed).toContain("database");
  expect(r.body.checks.database.ok).toBe(false);
  expect(r.body.checks.database.error).toBeTruthy();
  expect(r.body.checks.redis.ok).toBe(true);
  expect(await check(cluster.grpcAddress)).toBe("NOT_SERVING");
  // The backup node keeps its bytes in MariaDB; a storage node's bytes are on its disk.
  expect(await check(address("backup-1"))).toBe("NOT_SERVING");
  expect(await check(address("storage-1"))).toBe("SERVING");

  await db.start();
  await waitFor("/readyz 200 again", async () => (await readyz()).code === 200, 60_000, 250);
  expect(await check(cluster.grpcAddress)).toBe("SERVING");
  expect(await check(address("backup-1"))).toBe("SERVING");
}, 120_000);
