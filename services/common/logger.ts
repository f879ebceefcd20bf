import pino from "pino";

export type Logger = pino.Logger;

/** One JSON logger per process, named after the service; MINIS3_LOG_LEVEL sets the level. */
export function createLogger(service: string, extra: Record<string, unknown> = {}): Logger {
  return pino({
    level: process.env.MINIS3_LOG_LEVEL ?? "info",
    base: { service, pid: process.pid, ...extra },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
