import type { Server } from "node:http";
import type { FastifyInstance } from "fastify";

/** How long requests in flight at a stop may still run before their connections are cut. */
export const HTTP_DRAIN_MS = 5_000;
/** How often, while closing, connections that have become idle are closed. */
const IDLE_POLL_MS = 50;

/**
 * Makes close() end within drainMs. Fastify answers requests that arrive while closing with a 503 and
 * `Connection: close`, and closes the connections idle at that moment; but a keep-alive connection whose
 * request was in flight stays open after its response until the client drops it (up to the 72 s the
 * server advertises), and close() waits for it. That held the coordinator for its whole 10 s grace in 7
 * of 8 stops under 16 uploading clients, until the launcher SIGKILLed it. So while closing, connections
 * are closed as soon as they are idle, and any still busy after drainMs are cut. Only a timer runs, and
 * only while closing: requests pay nothing.
 */
export function drainOnClose(app: FastifyInstance, drainMs = HTTP_DRAIN_MS): void {
  app.addHook("preClose", (done) => {
    drainWhileClosing(app.server, drainMs);
    done();
  });
}

/** The same for a plain node:http server (the S3 endpoint): call it just before server.close(). */
export function drainWhileClosing(server: Server, drainMs = HTTP_DRAIN_MS): void {
  const poll = setInterval(() => server.closeIdleConnections(), IDLE_POLL_MS);
  const cut = setTimeout(() => server.closeAllConnections(), drainMs);
  poll.unref();
  cut.unref();
  server.once("close", () => {
    clearInterval(poll);
    clearTimeout(cut);
  });
}
