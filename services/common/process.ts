import type { Logger } from "./logger";

/** Set by onShutdown once the service runs: how a dead parent stops it (before that, it just exits). */
let stopOnParentGone: ((reason: string) => void) | undefined;

/**
 * Runs a service's shutdown once on SIGINT/SIGTERM, or when the parent that started it over an IPC
 * channel dies (see runMain), then exits. A second signal, or a shutdown slower than graceMs, exits
 * at once.
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
  stopOnParentGone = stop;
}

/**
 * Runs main(); a start-up failure is logged and exits with status 1. A process started with an IPC
 * channel (the launcher's children) stops when that channel closes, i.e. when its parent is gone,
 * even by SIGKILL: the launcher starts them detached, so nothing else would ever stop them.
 */
export function runMain(log: Logger, main: () => Promise<void>): void {
  if (process.channel) {
    process.once("disconnect", () => {
      if (stopOnParentGone) stopOnParentGone("parent gone");
      else {
        log.warn("parent gone while starting; exiting");
        process.exit(1);
      }
    });
    // The listener must not keep the process alive by itself: a service that is done still exits.
    process.channel.unref();
  }
  main().catch((e) => {
    log.fatal({ err: e }, "failed to start");
    process.exit(1);
  });
}
