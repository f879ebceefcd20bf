// The standard gRPC health service (grpc.health.v1.Health, proto/grpc/health/v1/health.proto) for
// every MiniS3 gRPC server: the coordinator's (ObjectService, AdminService) and every node's
// (NodeService). One probe answers for the whole server, as every service on it needs the same
// things; "" (the server) and the named services answer its verdict, any other name NOT_FOUND
// (Check) or SERVICE_UNKNOWN (Watch), as the standard says.
import * as grpc from "@grpc/grpc-js";
import {
  HealthCheckResponse_ServingStatus as Status,
  HealthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
} from "./gen/grpc/health/v1/health";

export { HealthCheckResponse_ServingStatus as HealthStatus } from "./gen/grpc/health/v1/health";

/** Health calls' path prefix: node interceptors let them through without the cluster secret. */
export const HEALTH_PATH_PREFIX = "/grpc.health.v1.Health/";

export interface HealthOptions {
  /** Fully qualified names of the services on the server ("" is always known). */
  services: readonly string[];
  /** True when the server can serve; false, a rejection or no answer within timeoutMs is NOT_SERVING. */
  probe: () => Promise<boolean>;
  timeoutMs?: number;
  /** How often a Watch looks again (it sends only changes). */
  watchIntervalMs?: number;
}

export function addHealthService(server: grpc.Server, opts: HealthOptions): void {
  server.addService(HealthService, createHealthService(opts));
}

export function createHealthService(opts: HealthOptions): HealthServer {
  const known = new Set(["", ...opts.services]);
  const timeoutMs = opts.timeoutMs ?? 2000;
  const watchIntervalMs = opts.watchIntervalMs ?? 5000;
  const status = async (): Promise<Status> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      const ok = await Promise.race([opts.probe(), late]);
      return ok ? Status.SERVING : Status.NOT_SERVING;
    } catch {
      return Status.NOT_SERVING;
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    check(call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: grpc.sendUnaryData<HealthCheckResponse>) {
      const { service } = call.request;
      if (!known.has(service)) return callback({ code: grpc.status.NOT_FOUND, details: `unknown service "${service}"` });
      void status().then((s) => callback(null, { status: s }));
    },

    watch(call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) {
      if (!known.has(call.request.service)) {
        call.write({ status: Status.SERVICE_UNKNOWN }); // and stays open: the service may appear, says the standard
        return;
      }
      let last: Status | undefined;
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const stop = () => {
        done = true;
        clearTimeout(timer);
      };
      call.on("cancelled", stop);
      call.on("close", stop);
      const look = async (): Promise<void> => {
        const s = await status();
        if (done) return;
        if (s !== last) {
          last = s;
          call.write({ status: s });
        }
        timer = setTimeout(() => void look(), watchIntervalMs);
      };
      void look();
    },
  };
}
