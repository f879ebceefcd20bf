// The container health check of every MiniS3 service (deploy/docker-compose.yml), run inside the
// image with the service's own environment, so no curl or grpc_health_probe has to be shipped:
//   node dist/deploy/health-probe.js http://127.0.0.1:8080/readyz   exit 0 on HTTP 200
//   node dist/deploy/health-probe.js grpc://127.0.0.1:7100         exit 0 when grpc.health.v1 says SERVING
// A gRPC server without the health service (it answers UNIMPLEMENTED) is taken as up: it accepted
// the connection and answered a call. Exit 1 otherwise, with the reason on stderr (Docker keeps it
// in `docker inspect`).
import * as grpc from "@grpc/grpc-js";
import { presentingSecret } from "../services/rpc/cluster-secret";
import { HealthClient } from "../services/rpc/gen/grpc/health/v1/health";
import { HealthStatus } from "../services/rpc/health";

/** Docker's own timeout for the check is 3 s (docker-compose.yml): answer before it. */
const PROBE_TIMEOUT_MS = 2_500;

export async function probeHttp(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.text()).slice(0, 200);
    return res.status === 200 ? undefined : `HTTP ${res.status} ${body}`;
  } catch (e) {
    // fetch's own message is "fetch failed"; the cause says why (refused, timed out, reset)
    const cause = (e as Error).cause as { message?: string } | undefined;
    return cause?.message ?? (e as Error).message;
  }
}

/**
 * One grpc.health.v1 Check for the whole server (service ""). Node health is open past the
 * cluster-secret check; the secret is sent anyway when the environment has one (an older node).
 */
export function probeGrpc(address: string, secret: string | undefined, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | undefined> {
  const client = new HealthClient(address, grpc.credentials.createInsecure(), {
    interceptors: secret ? [presentingSecret(secret)] : [],
  });
  return new Promise<string | undefined>((resolve) => {
    client.check({ service: "" }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, response) => {
      if (err) resolve(err.code === grpc.status.UNIMPLEMENTED ? undefined : `gRPC ${grpc.status[err.code]}: ${err.details}`);
      else if (response.status !== HealthStatus.SERVING) resolve(`grpc.health.v1 status ${HealthStatus[response.status]}, not SERVING`);
      else resolve(undefined);
    });
  }).finally(() => client.close());
}

export async function probe(target: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (/^https?:\/\//.test(target)) return probeHttp(target);
  const grpcTarget = /^grpc:\/\/([^/]+)\/?$/.exec(target);
  if (grpcTarget) return probeGrpc(grpcTarget[1], env.MINIS3_CLUSTER_SECRET);
  return `cannot probe ${JSON.stringify(target)}: give http://host:port/path or grpc://host:port`;
}

if (require.main === module) {
  const target = process.argv[2] ?? "";
  void probe(target, process.env).then((problem) => {
    if (problem) process.stderr.write(`unhealthy: ${target}: ${problem}\n`);
    process.exit(problem ? 1 : 0);
  });
}
