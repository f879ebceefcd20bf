import type { Logger } from "./logger";

/**
 * Runs a service's shutdown once on SIGINT/SIGTERM, then exits. A second signal, or a shutdown
 * slower than graceMs, exits at once.
 */
export function onShutdown(log: Logger, shutdown: () => Promise<void>, graceMs = 10_000): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      log.error("shutdown took too long; exiting");
      process.exit(1);
    }, graceMs);
    force.unref();
    shutdown().then(
      () => {
        log.info("stopped");
        process.exit(0);
      },
      (e) => {
        log.error({ err: e }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

/** Runs main(); a start-up failure is logged and exits with status 1. */
export function runMain(log: Logger, main: () => Promise<void>): void {
  main().catch((e) => {
    log.fatal({ err: e }, "failed to start");
    process.exit(1);
  });
}
