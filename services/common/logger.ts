import pino from "pino";
import { loadConfig } from "./config";

export type Logger = pino.Logger;

/**
 * One JSON logger per process, named after the service; MINIS3_LOG_LEVEL sets the level, read
 * through the config table so a bad value stops the process like any other bad setting. A line
 * about a request's work names its `requestId` itself (request-context.ts: passed, not looked up).
 */
export function createLogger(service: string, extra: Record<string, unknown> = {}): Logger {
  return pino({
    level: loadConfig(["logLevel"] as const).logLevel,
    base: { service, pid: process.pid, ...extra },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
