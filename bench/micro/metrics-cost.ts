/**
 * Micro-benchmark (not a test): what the request metrics add per request, in CPU µs of this process
 * (client and server both run here, so the difference between the runs is the metrics' share).
 *
 *   node dist/bench/micro/metrics-cost.js [requests=5000] [rounds=3]
 *
 * - record: OpMetrics lookup + record (counter, histogram), alone.
 * - http: sequential keep-alive GETs to a node:http server, with and without measureRequest.
 * - grpc: sequential unary calls (the health service's Check) to a grpc-js server, with and without
 *   the measuring interceptor and measured service definition.
 */
import { createServer, request, Agent, type Server } from "node:http";
import * as grpc from "@grpc/grpc-js";
import { measuredService, measuringCalls } from "../../services/common/metrics/grpc-metrics";
import { measureRequest, nameOperation } from "../../services/common/metrics/http-metrics";
import { opMetrics } from "../../services/common/metrics/request-metrics";
import { createHealthService } from "../../services/rpc/health";
import { HealthClient, HealthService } from "../../services/rpc/gen/grpc/health/v1/health";

const requests = Number(process.argv[2] ?? 5000);
const rounds = Number(process.argv[3] ?? 3);

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function perOp(n: number, op: () => Promise<void> | void): Promise<number> {
  const start = cpuMicros();
  for (let i = 0; i < n; i++) await op();
  return (cpuMicros() - start) / n;
}

async function httpRun(measured: boolean): Promise<number> {
  const server: Server = createServer((req, res) => {
    if (measured) {
      measureRequest("facade", req, res);
      nameOperation(res, "facade", "GET /bench");
    }
    res.writeHead(200, { "content-length": "2" }).end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = () =>
    new Promise<void>((resolve, reject) => {
      request({ host: "127.0.0.1", port, path: "/bench", agent }, (res) => {
        res.resume();
        res.on("end", resolve);
      })
        .on("error", reject)
        .end();
    });
  await perOp(200, get); // warm up
  const us = await perOp(requests, get);
  agent.destroy();
  await new Promise((r) => server.close(r));
  return us;
}

async function grpcRun(measured: boolean): Promise<number> {
  const server = new grpc.Server(measured ? { interceptors: [measuringCalls("grpc")] } : {});
  const impl = createHealthService({ services: [], probe: async () => true });
  server.addService(measured ? measuredService(HealthService, "grpc") : HealthService, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const client = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const check = () => new Promise<void>((resolve, reject) => client.check({ service: "" }, (e) => (e ? reject(e) : resolve())));
  await perOp(200, check);
  const us = await perOp(requests, check);
  client.close();
  server.forceShutdown();
  return us;
}

async function main(): Promise<void> {
  const m = () => opMetrics("facade", "GET /bench");
  await perOp(10_000, () => m().record(0.001));
  const record = await perOp(200_000, () => m().record(0.001));
  console.log(`record: ${record.toFixed(3)} µs per request (lookup + counter + histogram)`);
  for (let r = 1; r <= rounds; r++) {
    const [httpOff, httpOn] = [await httpRun(false), await httpRun(true)];
    const [grpcOff, grpcOn] = [await grpcRun(false), await grpcRun(true)];
    console.log(
      `round ${r}: http ${httpOff.toFixed(1)} → ${httpOn.toFixed(1)} µs/request (${(httpOn - httpOff).toFixed(1)}), ` +
        `grpc ${grpcOff.toFixed(1)} → ${grpcOn.toFixed(1)} µs/call (${(grpcOn - grpcOff).toFixed(1)})`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
