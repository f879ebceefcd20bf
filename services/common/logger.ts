import pino from "pino";
import { loadConfig } from "./config";
import { currentRequestId } from "./request-context";

export type Logger = pino.Logger;

/**
 * One JSON logger per process, named after the service; MINIS3_LOG_LEVEL sets the level, read
 * through the config table so a bad value stops the process like any other bad setting. A line
 * that already names a `requestId` (a node logging the id a call carried) keeps it.
 */
export function createLogger(service: string, extra: Record<string, unknown> = {}): Logger {
  return pino({
    level: loadConfig(["logLevel"] as const).logLevel,
    base: { service, pid: process.pid, ...extra },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Every line written while a request's work runs carries its id (request-context.ts); one
    // AsyncLocalStorage read per line written, nothing for lines below the level.
    mixin: () => {
      const requestId = currentRequestId();
      return requestId === undefined ? {} : { requestId };
    },
  });
}
