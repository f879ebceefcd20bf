// GET /metrics on a port of its own (MINIS3_METRICS_PORT; 0: none), plain node:http: a scrape
// must not queue behind object traffic in the facade, and a node has no HTTP server otherwise.
import { createServer, type Server } from "node:http";
import type { Logger } from "../logger";
import { registry } from "./registry";

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** The exposition text and its content type; the default is this process's registry. */
export type MetricsSource = () => Promise<{ contentType: string; body: string }>;

export const ownMetrics: MetricsSource = async () => ({ contentType: registry.contentType, body: await registry.metrics() });

/** Serves `source` on host:port; undefined when port is 0 (metrics off). */
export async function serveMetrics(
  host: string,
  port: number,
  log: Logger,
  source: MetricsSource = ownMetrics,
): Promise<MetricsServer | undefined> {
  if (port === 0) return undefined;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("metrics are at GET /metrics\n");
      return;
    }
    source().then(
      ({ contentType, body }) => res.writeHead(200, { "content-type": contentType }).end(req.method === "HEAD" ? undefined : body),
      (e: Error) => {
        log.warn({ err: e }, "metrics could not be collected");
        res.writeHead(503, { "content-type": "text/plain" }).end(`metrics could not be collected: ${e.message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
