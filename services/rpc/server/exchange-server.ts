import type { ServerDuplexStream } from "@grpc/grpc-js";
import { InvalidArgumentError, NotFoundError, TooLargeError } from "../../common/errors";
import type { BatchRequest, BatchResponse, BlobInfo, BlobOp, BlobOpResult } from "../gen/minis3/v1/node";
import type { BlobMeta } from "../blob-backend";
import type { Logger } from "../../common/logger";
import { answerDelete, type FencedBackend } from "./put-fence";
import { isValidBlobId, toBlobInfo } from "../blob-info";
import { toWire, WIRE_CODE, WIRE_OK } from "../wire-errors";
import { MAX_MESSAGE_PAYLOAD } from "../wire/exchange-codec";
import type { OpLog } from "./op-log";

const EMPTY = Buffer.alloc(0);

/**
 * The node side of Exchange: many small ops per message, run concurrently (so the backend can
 * group the puts of one message into one fsync), results that finish within a millisecond packed
 * back together, or at once when the last op in flight finishes.
 */
export function serveExchange(
  call: ServerDuplexStream<BatchRequest, BatchResponse>,
  backend: FencedBackend,
  maxGetBytes: number,
  log: Logger,
  ops: OpLog,
): void {
  let out: BlobOpResult[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  let inFlight = 0;
  let inputEnded = false;
  let closed = false;

  const finishIfDone = () => {
    if (inputEnded && inFlight === 0 && out.length === 0 && !closed) {
      closed = true;
      call.end();
    }
  };
  const flush = () => {
    flushTimer = undefined;
    if (closed) return;
    // Results that finish within the same millisecond go back together, in messages of at most
    // MAX_MESSAGE_PAYLOAD body bytes: unsplit, 2,800 reads of 48 KiB made one 138 MB message, over
    // grpc-js's 16 MiB limit, which failed the stream and every op on it.
    for (let from = 0; from < out.length;) {
      let to = from;
      let bytes = 0;
      while (to < out.length && (to === from || bytes + (out[to].data?.length ?? 0) <= MAX_MESSAGE_PAYLOAD)) {
        bytes += out[to].data?.length ?? 0;
        to++;
      }
      // Where the node's puts stand, read as the message goes: what a fenced delete names.
      call.write({ results: out.slice(from, to), ...backend.position });
      from = to;
    }
    out = [];
    finishIfDone();
  };
  const deliver = (result: BlobOpResult) => {
    inFlight--;
    out.push(result);
    if (inFlight === 0) {
      // Nothing else is on its way, so no later result can join these: they go now, without the
      // timer's 1 ms and its wake-up (a message's puts all finish in their group's tick). Measured
      // (bench/micro/put-small.ts, 3 pairs): node CPU per put 1,161 -> 672 µs at 1 in flight, 352 ->
      // 191 at 4, even at 16; p50 4.3-4.8 -> 2.0-3.1 ms at 1 (bench/README "An Exchange message
      // answered when its last op finishes"). While others are in flight the timer still merges.
      if (flushTimer) clearTimeout(flushTimer);
      flush();
    } else {
      flushTimer ??= setTimeout(flush, 1);
    }
  };

  call.on("data", (batch: BatchRequest) => {
    for (const op of batch.ops) {
      inFlight++;
      runOp(op, backend, maxGetBytes, ops).then(deliver, (e) => {
        // runOp turns errors into results; reaching here is a bug, but the caller must still hear back.
        log.error({ err: e }, "exchange op crashed");
        deliver(failure(op.id, e));
      });
    }
  });
  call.on("end", () => {
    inputEnded = true;
    finishIfDone();
  });
  call.on("cancelled", () => {
    closed = true;
  });
  call.on("error", (e) => {
    closed = true;
    log.debug({ err: e }, "exchange stream error");
  });
}

async function runOp(op: BlobOp, backend: FencedBackend, maxGetBytes: number, ops: OpLog): Promise<BlobOpResult> {
  const o = op.op;
  const done = ops.start(o?.$case ?? "none", (o?.$case === "put" ? o.value.header?.blobId : o?.value.blobId) ?? "", op.requestId);
  try {
    const result = await runBlobOp(op, o, backend, maxGetBytes);
    done();
    return result;
  } catch (e) {
    done(e);
    return failure(op.id, e);
  }
}

async function runBlobOp(op: BlobOp, o: BlobOp["op"], backend: FencedBackend, maxGetBytes: number): Promise<BlobOpResult> {
  if (!o) throw new InvalidArgumentError("empty op");
  switch (o.$case) {
    case "put": {
      const header = o.value.header;
      if (!header || !isValidBlobId(header.blobId)) throw new InvalidArgumentError(`bad blob id "${header?.blobId}"`);
      const meta = await backend.putSmall(header.blobId, header.attributes, o.value.data, o.value.sha256, o.value.crc32);
      return ok(op.id, { blob: putAnswer(meta) });
    }
    case "get": {
      const { blobId, offset, length } = o.value;
      if (!isValidBlobId(blobId)) throw new InvalidArgumentError(`bad blob id "${blobId}"`);
      const reader = await backend.read(blobId, offset, length);
      if (reader.length > maxGetBytes) {
        await reader.chunks[Symbol.asyncIterator]().return?.();
        throw new TooLargeError(`blob ${blobId} has ${reader.length} bytes; read it with ReadBlob`);
      }
      const parts: Buffer[] = [];
      for await (const chunk of reader.chunks) parts.push(chunk);
      const data = parts.length === 1 ? parts[0] : parts.length === 0 ? EMPTY : Buffer.concat(parts);
      return ok(op.id, { blob: toBlobInfo(reader.meta), data });
    }
    case "delete": {
      if (!isValidBlobId(o.value.blobId)) throw new InvalidArgumentError(`bad blob id "${o.value.blobId}"`);
      return ok(op.id, await answerDelete(backend, o.value));
    }
    case "stat": {
      if (!isValidBlobId(o.value.blobId)) throw new InvalidArgumentError(`bad blob id "${o.value.blobId}"`);
      const meta = await backend.stat(o.value.blobId);
      if (!meta) throw new NotFoundError(`blob ${o.value.blobId} not found`);
      return ok(op.id, { blob: toBlobInfo(meta) });
    }
  }
}

/** Shared, never written: a put's answer names no attributes. */
const NO_ATTRIBUTES: Record<string, string> = {};

/**
 * A put's answer: the blob's id, size, sha256 and time, without the attributes the sender just sent
 * (NodeClient.putSmall answers its caller with its own). Echoed, a trash copy's ten were unpacked from
 * the entry's packed meta and encoded again for every put: 7 % of the delete node's samples in the
 * lifecycle bench's trash phase (`get attributes` 3.3 %, `encodeAttributes` 4.0 %, 2026-12-07), and
 * ~300 bytes more per answer for the coordinator to receive and copy.
 */
function putAnswer(meta: BlobMeta): BlobInfo {
  return { blobId: meta.blobId, size: meta.size, sha256: meta.sha256, storedAtMs: meta.storedAtMs, attributes: NO_ATTRIBUTES };
}

function ok(id: number, fields: Partial<BlobOpResult>): BlobOpResult {
  return { id, code: WIRE_OK, message: "", blob: undefined, data: EMPTY, existed: false, fenced: false, ...fields };
}

function failure(id: number, e: unknown): BlobOpResult {
  const w = toWire(e);
  return { id, code: WIRE_CODE[w.code], message: w.message, blob: undefined, data: EMPTY, existed: false, fenced: false };
}
