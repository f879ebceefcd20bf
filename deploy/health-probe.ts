// The container health check of every MiniS3 service (deploy/docker-compose.yml), run inside the
// image with the service's own environment, so no curl or grpc_health_probe has to be shipped:
//   node dist/deploy/health-probe.js http://127.0.0.1:8080/readyz   exit 0 on HTTP 200
//   node dist/deploy/health-probe.js grpc://127.0.0.1:50100         exit 0 when grpc.health.v1 says SERVING
// A gRPC server without the health service (it answers UNIMPLEMENTED) is taken as up: it accepted
// the connection and answered a call. Exit 1 otherwise, with the reason on stderr (Docker keeps it
// in `docker inspect`).
import * as grpc from "@grpc/grpc-js";
import { presentingSecret } from "../services/rpc/cluster-secret";

/** Docker's own timeout for the check is 3 s (docker-compose.yml): answer before it. */
const PROBE_TIMEOUT_MS = 2_500;

const HEALTH_CHECK = "/grpc.health.v1.Health/Check";

/** grpc.health.v1.HealthCheckResponse.ServingStatus */
const SERVING = 1;

export async function probeHttp(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.text()).slice(0, 200);
    return res.status === 200 ? undefined : `HTTP ${res.status} ${body}`;
  } catch (e) {
    const cause = (e as Error).cause;
    return cause instanceof Error ? cause.message : (e as Error).message;
  }
}

/**
 * One grpc.health.v1 Check for the whole server (service ""), by hand: the request is an empty
 * message and the answer one varint field, not worth a proto file. Nodes refuse any call without
 * the cluster secret, so it carries MINIS3_CLUSTER_SECRET when the environment has one.
 */
export function probeGrpc(address: string, secret: string | undefined, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | undefined> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), {
    interceptors: secret ? [presentingSecret(secret)] : [],
  });
  return new Promise<string | undefined>((resolve) => {
    client.makeUnaryRequest(
      HEALTH_CHECK,
      (request: Buffer) => request,
      (response: Buffer) => response,
      Buffer.alloc(0),
      { deadline: Date.now() + timeoutMs },
      (err, response) => {
        if (err) {
          resolve(err.code === grpc.status.UNIMPLEMENTED ? undefined : `gRPC ${grpc.status[err.code]}: ${err.details}`);
          return;
        }
        const status = servingStatus(response ?? Buffer.alloc(0));
        resolve(status === SERVING ? undefined : `grpc.health.v1 status ${status}, not SERVING`);
      },
    );
  }).finally(() => client.close());
}

/** Field 1 (varint) of HealthCheckResponse; absent means 0 (UNKNOWN). */
function servingStatus(message: Buffer): number {
  let i = 0;
  let status = 0;
  while (i < message.length) {
    const key = message[i++];
    if (key !== 0x08) break; // only field 1 is defined; anything else: stop reading
    let value = 0;
    for (let shift = 0; i < message.length; shift += 7) {
      const b = message[i++];
      value |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    status = value;
  }
  return status;
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
