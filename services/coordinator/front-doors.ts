import type * as grpc from "@grpc/grpc-js";
import type { Server } from "node:http";
import { bindServer } from "../common/grpc";

// How a coordinator's servers get their connections: a lone coordinator listens on its ports; a
// worker of a group takes them from its primary, which listens (group/worker-doors.ts).

export interface FrontDoors {
  /** Serves gRPC on the port; resolves to the port served. */
  grpc(server: grpc.Server, host: string, port: number): Promise<number>;
  /** Serves the HTTP facade (fastify's `app.server`, once the app is ready) on the port. */
  http(server: Server, host: string, port: number): Promise<number>;
  /** Serves the S3 endpoint on the port. */
  s3(server: Server, host: string, port: number): Promise<number>;
  /** Every door is set up: connections may come. */
  open(): void;
  /**
   * The servers are closing: take no more connections, and resolve once those taken are closed (the
   * servers' own close answers for the connections they accepted themselves).
   */
  close(): Promise<void>;
}

/** Listens and returns the port bound. */
function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

/** A lone coordinator's doors: its servers listen themselves. */
export const listeningDoors: FrontDoors = {
  grpc: (server, host, port) => bindServer(server, host, port),
  http: listen,
  s3: listen,
  open: () => undefined,
  close: async () => undefined,
};
