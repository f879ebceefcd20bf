// Request metrics for the node:http front doors (the facade under fastify, the S3 endpoint). Per
// request: a start time and the operation are kept on the response, and one shared listener records
// them when the response closes. Bytes are the connection's: what it read and wrote since the last
// request on it ended, so a keep-alive connection's bytes are counted once, headers included.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { type Door, type OpMetrics, opMetrics } from "./request-metrics";

const START = Symbol("minis3.metrics.start");
const OP = Symbol("minis3.metrics.op");
const SOCKET = Symbol("minis3.metrics.socket");
const READ = Symbol("minis3.metrics.read");
const WRITTEN = Symbol("minis3.metrics.written");

type Measured = ServerResponse & { [START]?: number; [OP]?: OpMetrics; [SOCKET]?: Socket };
type CountedSocket = Socket & { [READ]?: number; [WRITTEN]?: number };

/** Starts measuring one request; its operation is `op` until named by nameOperation. */
export function measureRequest(door: Door, req: IncomingMessage, res: ServerResponse, op = "other"): void {
  const m = res as Measured;
  m[START] = performance.now();
  m[OP] = opMetrics(door, op);
  m[SOCKET] = req.socket;
  res.on("close", recordClosed);
}

/** Names the operation of a request being measured (once its route is known). */
export function nameOperation(res: ServerResponse, door: Door, op: string): void {
  const m = res as Measured;
  if (m[OP] !== undefined) m[OP] = opMetrics(door, op);
}

function recordClosed(this: Measured): void {
  const op = this[OP]!;
  const socket = this[SOCKET] as CountedSocket | undefined;
  if (socket) {
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    op.received.inc(read - (socket[READ] ?? 0));
    op.sent.inc(written - (socket[WRITTEN] ?? 0));
    socket[READ] = read;
    socket[WRITTEN] = written;
  }
  const failed = !this.writableFinished ? "aborted" : this.statusCode >= 400 ? String(this.statusCode) : undefined;
  op.record((performance.now() - this[START]!) / 1000, failed);
}
