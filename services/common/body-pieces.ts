// The pieces of an HTTP body freed the moment they are used up.
//
// node:http hands a body over as its parser's copies of each socket read: a fresh Buffer of up to
// 64 KiB, each the only view of its own ArrayBuffer. Left to V8, that memory goes only when a
// collection finds the Buffer dead: the young-gc-pacer's collection every 4 MiB, and between them
// the dead pieces count toward V8's next full collection. A large upload's pieces are dead as soon
// as their bytes are copied on (the coordinator's joins into replica chunks, a node's file writes);
// `ArrayBuffer.prototype.transfer(0)` then detaches the piece's buffer and frees its memory at once.
// Measured (2026-12-05, npm start's cluster, 8 x 64 MiB uploads): the cluster's young collections
// 490-517 -> 40-109, the busy coordinator's main thread 2.2-2.4 -> 1.7-2.0 ms of CPU per MiB; the
// bench's large rows, four alternated pairs on fresh clusters: 64 MiB up 159 -> 181 MB/s on means,
// two at once 188 -> 219 (bench/README.md "Body pieces freed as they are used").
//
// Only pieces marked here by the code that read them off the request (ownBodyPiece) are freed, and
// only while each is still the whole of its ArrayBuffer: a decoder's slices, a pooled Buffer or any
// Buffer another part of the process may still hold is never touched. A piece is freed only after
// its last use: a write still in flight would read freed memory (BlobWriter's contract: it keeps no
// reference once its write resolved).
import { Counter } from "prom-client";
import { registry } from "./metrics/registry";
import { forgetFreshBodyBytes } from "./young-gc-pacer";

type Transfer = (this: ArrayBuffer, newLength?: number) => ArrayBuffer;

/**
 * Built into V8 from 11.4 (Node 21); Node 20's V8 has it behind `--harmony-rab-gsab-transfer`,
 * which the launcher gives a service when its Node needs it (deploy/launcher/plan.ts). Without
 * it nothing is freed here and the young-gc-pacer frees the pieces as before.
 */
const transfer = (ArrayBuffer.prototype as { transfer?: Transfer }).transfer;

/** Whether this process frees body pieces (ArrayBuffer.prototype.transfer is there). */
export const FREES_BODY_PIECES = typeof transfer === "function";

const owned = new WeakSet<Buffer>();
/** A marked piece cut into slices (a decoder's output): how many of them are not yet freed. */
interface SharedPiece {
  piece: Buffer;
  slicesLeft: number;
}
const sliceOf = new WeakMap<Buffer, SharedPiece>();
let freedBytes = 0;
let reported = 0;

new Counter({
  name: "minis3_body_bytes_freed_total",
  help: "Bytes of HTTP body pieces freed as soon as they were used up, rather than left to the garbage collector",
  registers: [registry],
  collect() {
    this.inc(freedBytes - reported);
    reported = freedBytes;
  },
});

/** Marks a piece read off a request body as this code's alone, to be freed once used up. */
export function ownBodyPiece(piece: Buffer): Buffer {
  if (FREES_BODY_PIECES) owned.add(piece);
  return piece;
}

/**
 * Frees a marked piece's memory now; the piece reads as empty after. Call it only once nothing
 * needs the piece's bytes any more. An unmarked piece, or one that is no longer the whole of its
 * ArrayBuffer, is left to the garbage collector.
 */
export function freeBodyPiece(piece: Buffer): void {
  const shared = sliceOf.get(piece);
  if (shared) {
    sliceOf.delete(piece);
    if (--shared.slicesLeft === 0) freeBodyPiece(shared.piece);
    return;
  }
  if (!owned.delete(piece)) return;
  const bytes = piece.length;
  if (!freeWholeBuffer(piece)) return;
  forgetFreshBodyBytes(bytes);
  freedBytes += bytes;
}

/**
 * Frees the memory of a Buffer that is the whole of its own ArrayBuffer, now rather than at V8's
 * next collection; it and every other view of that memory read as empty after. Whether it did:
 * not without transfer (FREES_BODY_PIECES), nor for a slice or a pooled Buffer. The caller vouches
 * that nothing reads or writes the memory any more.
 */
export function freeWholeBuffer(view: Buffer): boolean {
  const buffer = view.buffer;
  if (!transfer || view.byteOffset !== 0 || view.length !== buffer.byteLength || !(buffer instanceof ArrayBuffer)) return false;
  transfer.call(buffer, 0);
  return true;
}

/**
 * A marked piece's bytes went on as `slices` of it (an aws-chunked body's data, its framing cut
 * out): the piece is freed once every slice has been freed with freeBodyPiece. The caller must
 * hold no other view of the piece. A piece with no bytes going on is freed now; one going on whole
 * (the only slice is the piece itself) stays marked as it is.
 */
export function shareBodyPiece(piece: Buffer, slices: readonly Buffer[]): void {
  if (!owned.has(piece) || (slices.length === 1 && slices[0] === piece)) return;
  if (slices.length === 0) return freeBodyPiece(piece);
  const shared: SharedPiece = { piece, slicesLeft: slices.length };
  for (const slice of slices) sliceOf.set(slice, shared);
}

/** Bytes freed by this process so far. */
export function bodyBytesFreed(): number {
  return freedBytes;
}
