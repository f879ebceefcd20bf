import { performance } from "node:perf_hooks";
import { toWire } from "../wire-errors";
import type { Logger } from "../../common/logger";

/**
 * A node's line per blob op at debug level (MINIS3_LOG_LEVEL=debug), with the request id the op
 * carried (rpc/request-ids.ts), so one request's work can be followed onto every node it reached.
 * At info and above it costs one boolean test per op: the level is read once.
 */
export class OpLog {
  private readonly enabled: boolean;

  constructor(private readonly log: Logger) {
    this.enabled = log.isLevelEnabled("debug");
  }

  /** Call when the op starts; call the returned function with its error (or nothing) when it ends. */
  start(op: string, blobId: string, requestId: string): (err?: unknown) => void {
    if (!this.enabled) return NOTHING;
    const started = performance.now();
    return (err) => {
      const ms = Math.round((performance.now() - started) * 10) / 10;
      const fields = { op, blob: blobId, ms, ...(requestId ? { requestId } : {}) };
      if (err === undefined) this.log.debug(fields, "blob op done");
      else {
        const w = toWire(err);
        this.log.debug({ ...fields, code: w.code, error: w.message }, "blob op failed");
      }
    };
  }
}

const NOTHING = () => undefined;
