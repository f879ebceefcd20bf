// The body of a verified request, checked as it streams: its pieces in, the object's bytes out
// (`checkedBody`).
//  - sha256 payload: passed through, its sha256 compared at the end (XAmzContentSHA256Mismatch);
//  - UNSIGNED-PAYLOAD: passed through;
//  - aws-chunked (the three STREAMING-* forms): decoded, each chunk's signature checked against the
//    chain from the seed signature, the trailer's signature and checksum checked.
// In every form the x-amz-checksum-* headers, a Content-MD5 and x-amz-decoded-content-length are
// checked. Memory is bounded: a chunk's bytes go on as they arrive (a chunk's signature is only
// known good at its end, so a consumer must treat a failed stream as nothing written, as the
// engine does: it commits only a body that ended cleanly). Lines are capped at MAX_LINE bytes.
import { createHash, type Hash } from "node:crypto";
import { shareBodyPiece } from "../../common/body-pieces";
import { ErrorCode, MiniS3Error } from "../../common/errors";
import { type Checksum, checksumAlgorithmOf, type ChecksumAlgorithm, contentMd5Of, newChecksum } from "../checksums";
import { type HeaderMap, headerOf, sha256Hex, EMPTY_SHA256 } from "./canonical";
import { sameSignature, signHex } from "./signing-key";
import type { Verified } from "./verify";

/** Longest chunk-size line or trailer line: a size, `;chunk-signature=` and 64 hex digits fit ~100 bytes. */
export const MAX_LINE = 4096;
const MAX_TRAILERS = 16;

function fail(code: ErrorCode, message: string): MiniS3Error {
  return new MiniS3Error(code, message);
}

interface Expected {
  algorithm: ChecksumAlgorithm | "md5";
  header: string;
  hasher: Checksum;
  /** From the request headers; for a trailer it comes at the end. */
  value?: string;
}

/** x-amz-checksum-* headers that carry no checksum: its type, its algorithm, and GetObject's "send me yours" (mode). */
const NOT_A_CHECKSUM = new Set(["x-amz-checksum-type", "x-amz-checksum-algorithm", "x-amz-checksum-mode"]);

type State = "size" | "data" | "data-crlf" | "trailer" | "done";

export class AuthenticatedBody {
  /** Checksums computed over the decoded bytes (those the request named), base64; complete once the stream ended. */
  readonly checksums: Partial<Record<ChecksumAlgorithm | "md5", string>> = {};
  /** Decoded bytes so far. */
  decodedLength = 0;
  /** Trailing headers received (aws-chunked with a trailer), by lower-case name. */
  readonly trailers: Record<string, string> = {};

  private readonly expected: Expected[] = [];
  private payloadSha?: { hash: Hash; hex: string };
  private readonly declaredLength?: number;
  private readonly chunked: boolean;
  private readonly signedChunks: boolean;
  private readonly trailerDeclared: string[];
  // aws-chunked decoding state
  private state: State = "size";
  private line: Buffer[] = [];
  private lineLength = 0;
  private remaining = 0;
  private chunkSignature = "";
  private chunkHash?: Hash;
  private previousSignature: string;
  private lastChunkSeen = false;
  private skippedEmptyLine = false;
  private crlfSeen = 0;
  /** Where decodePiece collects the object's bytes of the piece in hand. */
  private decoded: Buffer[] = [];

  constructor(
    private readonly verified: Verified,
    headers: HeaderMap,
  ) {
    const payload = verified.payload;
    this.chunked = payload.kind === "chunked";
    this.signedChunks = payload.kind === "chunked" && payload.signedChunks;
    this.previousSignature = verified.signing.seedSignature;
    if (payload.kind === "sha256") this.payloadSha = { hash: createHash("sha256"), hex: payload.sha256 };

    for (const name of Object.keys(headers)) {
      if (!name.startsWith("x-amz-checksum-") || NOT_A_CHECKSUM.has(name)) continue;
      const algorithm = checksumAlgorithmOf(name);
      if (!algorithm) throw fail(ErrorCode.InvalidArgument, `${name}: checksum algorithm not supported (CRC32, CRC32C, SHA1, SHA256)`);
      this.expected.push({ algorithm, header: name, hasher: newChecksum(algorithm), value: headerOf(headers, name)?.trim() });
    }
    const md5 = contentMd5Of(headerOf(headers, "content-md5")); // InvalidDigest when malformed
    if (md5 !== undefined) {
      const value = Buffer.from(md5, "hex").toString("base64");
      this.expected.push({ algorithm: "md5", header: "content-md5", hasher: newChecksum("md5"), value });
    }

    this.trailerDeclared = (headerOf(headers, "x-amz-trailer") ?? "")
      .split(",")
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== "");
    const trailer = payload.kind === "chunked" && payload.trailer;
    if (this.trailerDeclared.length && !trailer)
      throw fail(ErrorCode.InvalidArgument, "x-amz-trailer needs an x-amz-content-sha256 of a *-TRAILER form");
    for (const name of this.trailerDeclared) {
      const algorithm = checksumAlgorithmOf(name);
      if (!algorithm)
        throw fail(ErrorCode.InvalidArgument, `x-amz-trailer: ${name} is not a supported checksum (CRC32, CRC32C, SHA1, SHA256)`);
      if (!this.expected.some((e) => e.header === name)) this.expected.push({ algorithm, header: name, hasher: newChecksum(algorithm) });
    }

    const declared = headerOf(headers, "x-amz-decoded-content-length");
    if (declared !== undefined) {
      if (!/^\d{1,16}$/.test(declared.trim()))
        throw fail(ErrorCode.InvalidArgument, `x-amz-decoded-content-length '${declared}' is not a size`);
      this.declaredLength = Number(declared.trim());
    }
  }

  /** A body taken as sent (a hex sha256 or UNSIGNED-PAYLOAD): its pieces go to `checkPiece`, not `decodePiece`. */
  get takenAsSent(): boolean {
    return !this.chunked;
  }

  /**
   * For a reader that hands the body to the object store, which hashes every upload with sha256 and
   * md5 anyway: the signed payload hash and the Content-MD5 (hex), no longer checked here, so the
   * body is hashed once (here too, the sha256 cost the coordinator's event loop ~0.6 ms per MiB). The
   * caller must have the store compare them before anything is kept (the engine's ExpectedDigests).
   * Each is undefined when the request has none: nothing of it is left to the store then.
   */
  leaveToStore(): { payloadSha256?: string; contentMd5?: string } {
    const payloadSha256 = this.payloadSha?.hex;
    this.payloadSha = undefined;
    const md5 = this.expected.findIndex((e) => e.algorithm === "md5");
    const contentMd5 = md5 < 0 ? undefined : Buffer.from(this.expected.splice(md5, 1)[0].value ?? "", "base64").toString("hex");
    return { payloadSha256, contentMd5 };
  }

  checkPiece(piece: Buffer): void {
    this.count(piece);
  }

  /**
   * An aws-chunked body's next piece, decoded: the object's bytes in it, checked so far. They are
   * the piece itself when it is all data, else slices of it (no copies); the decoder keeps no view
   * of the piece once this returns (a line cut by the piece's end is copied).
   */
  decodePiece(piece: Buffer): Buffer[] {
    const out = (this.decoded = []);
    this.decode(piece);
    this.decoded = [];
    return out;
  }

  /** After the last piece: throws what the body's end shows wrong (length, checksums, an unfinished chunk). */
  checkEnd(): void {
    if (this.chunked) this.endChunked();
    this.finish();
  }

  /** Decoded bytes out: counted, hashed, collected. */
  private emit_(data: Buffer): void {
    if (data.length === 0) return;
    this.count(data);
    this.decoded.push(data);
  }

  private count(data: Buffer): void {
    this.decodedLength += data.length;
    if (this.declaredLength !== undefined && this.decodedLength > this.declaredLength) {
      throw fail(ErrorCode.IncompleteBody, `the body is longer than x-amz-decoded-content-length (${this.declaredLength})`);
    }
    this.payloadSha?.hash.update(data);
    for (const e of this.expected) e.hasher.update(data);
  }

  private finish(): void {
    if (this.declaredLength !== undefined && this.chunked && this.decodedLength !== this.declaredLength) {
      throw fail(
        ErrorCode.IncompleteBody,
        `the body has ${this.decodedLength} bytes; x-amz-decoded-content-length says ${this.declaredLength}`,
      );
    }
    if (this.payloadSha && this.payloadSha.hash.digest("hex") !== this.payloadSha.hex) {
      throw fail(ErrorCode.XAmzContentSHA256Mismatch, "the body's sha256 is not the x-amz-content-sha256 it was signed with");
    }
    for (const e of this.expected) {
      const actual = e.hasher.digest();
      this.checksums[e.algorithm] = actual;
      if (e.value === undefined) throw fail(ErrorCode.IncompleteBody, `the trailer ${e.header} declared in x-amz-trailer did not come`);
      if (e.value !== actual) throw fail(ErrorCode.BadDigest, `the body's ${e.header} is ${actual}; the request says ${e.value}`);
    }
  }

  // --- aws-chunked: <hex size>[;chunk-signature=<sig>]\r\n<bytes>\r\n ... 0[;...]\r\n[trailers]\r\n

  private decode(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case "size":
        case "trailer": {
          const line = this.takeLine(buf, i);
          i = line.next;
          if (line.text !== undefined) {
            if (this.state === "size") this.sizeLine(line.text);
            else this.trailerLine(line.text);
          }
          break;
        }
        case "data": {
          const n = Math.min(this.remaining, buf.length - i);
          // A piece that is all data goes on whole: its memory can then be freed as one (body-pieces.ts).
          const data = n === buf.length ? buf : buf.subarray(i, i + n);
          this.chunkHash?.update(data);
          this.emit_(data);
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) {
            this.endOfChunkData();
            this.state = "data-crlf";
            this.crlfSeen = 0;
          }
          break;
        }
        case "data-crlf": {
          const expected = this.crlfSeen === 0 ? 0x0d : 0x0a;
          if (buf[i] !== expected) throw fail(ErrorCode.IncompleteBody, "aws-chunked: a chunk's data is not followed by CRLF");
          i++;
          if (++this.crlfSeen === 2) this.state = "size";
          break;
        }
        case "done":
          throw fail(ErrorCode.IncompleteBody, "aws-chunked: bytes after the end of the body");
      }
    }
  }

  /** Bytes up to CRLF, across reads; text is set once a whole line is in. */
  private takeLine(buf: Buffer, from: number): { text?: string; next: number } {
    let end = buf.indexOf(0x0a, from);
    const take = end < 0 ? buf.length : end;
    this.lineLength += take - from;
    if (this.lineLength > MAX_LINE) throw fail(ErrorCode.IncompleteBody, `aws-chunked: a line longer than ${MAX_LINE} bytes`);
    if (end < 0) {
      this.line.push(Buffer.from(buf.subarray(from, take))); // a copy: the piece may be freed once decoded
      return { next: buf.length };
    }
    this.line.push(buf.subarray(from, take));
    const raw = Buffer.concat(this.line);
    this.line = [];
    this.lineLength = 0;
    if (raw.length === 0 || raw[raw.length - 1] !== 0x0d) throw fail(ErrorCode.IncompleteBody, "aws-chunked: a line does not end in CRLF");
    end += 1;
    return { text: raw.subarray(0, raw.length - 1).toString("latin1"), next: end };
  }

  private sizeLine(text: string): void {
    const semi = text.indexOf(";");
    const sizeText = (semi < 0 ? text : text.slice(0, semi)).trim();
    if (!/^[0-9a-fA-F]{1,15}$/.test(sizeText))
      throw fail(ErrorCode.IncompleteBody, `aws-chunked: '${text.slice(0, 80)}' is not a chunk size`);
    const size = parseInt(sizeText, 16);
    if (this.signedChunks) {
      const m = /^chunk-signature=([0-9a-f]{64})$/.exec(semi < 0 ? "" : text.slice(semi + 1).trim());
      if (!m) throw fail(ErrorCode.IncompleteBody, "aws-chunked: a signed chunk without ;chunk-signature=<64 hex digits>");
      this.chunkSignature = m[1];
      this.chunkHash = createHash("sha256");
    }
    if (this.declaredLength !== undefined && this.decodedLength + size > this.declaredLength) {
      throw fail(ErrorCode.IncompleteBody, `the body is longer than x-amz-decoded-content-length (${this.declaredLength})`);
    }
    this.remaining = size;
    if (size > 0) {
      this.state = "data";
      return;
    }
    this.lastChunkSeen = true;
    this.endOfChunkData();
    this.state = "trailer";
  }

  /** A signed chunk's signature: HMAC of its sha256 chained from the one before (the seed for the first). */
  private endOfChunkData(): void {
    if (!this.signedChunks || !this.chunkHash) return;
    const { key, amzDate, scope } = this.verified.signing;
    const stringToSign = `AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${this.previousSignature}\n${EMPTY_SHA256}\n${this.chunkHash.digest("hex")}`;
    this.chunkHash = undefined;
    if (!sameSignature(signHex(key, stringToSign), this.chunkSignature)) {
      throw fail(
        ErrorCode.SignatureDoesNotMatch,
        `aws-chunked: the signature of the chunk ending at byte ${this.decodedLength} does not match`,
      );
    }
    this.previousSignature = this.chunkSignature;
  }

  private trailerLine(text: string): void {
    if (text === "") {
      // Some clients put an empty line between the last chunk and the trailer; else it ends the body.
      if (Object.keys(this.trailers).length === 0 && this.trailerDeclared.length > 0 && !this.skippedEmptyLine) {
        this.skippedEmptyLine = true;
        return;
      }
      this.endTrailer();
      return;
    }
    const colon = text.indexOf(":");
    if (colon <= 0) throw fail(ErrorCode.IncompleteBody, `aws-chunked: trailer line '${text.slice(0, 80)}' is not name:value`);
    if (Object.keys(this.trailers).length >= MAX_TRAILERS) throw fail(ErrorCode.IncompleteBody, "aws-chunked: too many trailers");
    this.trailers[text.slice(0, colon).trim().toLowerCase()] = text.slice(colon + 1).trim();
  }

  private endTrailer(): void {
    const signature = this.trailers["x-amz-trailer-signature"];
    const names = Object.keys(this.trailers).filter((n) => n !== "x-amz-trailer-signature");
    if (this.signedChunks && this.trailerDeclared.length > 0) {
      if (signature === undefined) throw fail(ErrorCode.SignatureDoesNotMatch, "aws-chunked: the trailer has no x-amz-trailer-signature");
      const canonical = names.map((n) => `${n}:${this.trailers[n]}\n`).join("");
      const { key, amzDate, scope } = this.verified.signing;
      const stringToSign = `AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n${this.previousSignature}\n${sha256Hex(canonical)}`;
      if (!sameSignature(signHex(key, stringToSign), signature))
        throw fail(ErrorCode.SignatureDoesNotMatch, "aws-chunked: the trailer's signature does not match");
    }
    for (const name of names) {
      if (!this.trailerDeclared.includes(name))
        throw fail(ErrorCode.InvalidArgument, `aws-chunked: trailer ${name} was not declared in x-amz-trailer`);
      const e = this.expected.find((x) => x.header === name);
      if (e && e.value !== undefined && e.value !== this.trailers[name]) {
        throw fail(ErrorCode.BadDigest, `${name} differs between the header and the trailer`);
      }
      if (e) e.value = this.trailers[name];
    }
    this.state = "done";
  }

  private endChunked(): void {
    if (this.state === "trailer" && this.lastChunkSeen) {
      // Tolerated: a body that ends after its last trailer line without the closing empty line.
      if (this.line.length) {
        const rest = Buffer.concat(this.line).toString("latin1").replace(/\r$/, "");
        this.line = [];
        if (rest !== "") this.trailerLine(rest);
      }
      if (this.trailerDeclared.length === 0 || Object.keys(this.trailers).length > 0) this.endTrailer();
    }
    if (this.state !== "done") throw fail(ErrorCode.IncompleteBody, "aws-chunked: the body ended before its last chunk");
  }
}

/** The checker of a verified request's body (see above); its bytes come through `checkedBody`. */
export function authenticatedBody(verified: Verified, headers: HeaderMap): AuthenticatedBody {
  return new AuthenticatedBody(verified, headers);
}

/**
 * A body's pieces as the object's bytes, checked on their way: taken as sent (a signed sha256 or
 * UNSIGNED-PAYLOAD), each piece goes on as it is; aws-chunked, decoded. Throws what the check finds,
 * at the piece that shows it or after the last. A decoded piece's slices share its memory: freed
 * together once each has been (body-pieces.ts). Pulled, not piped: pipe and a Transform's stream
 * machinery (end-of-stream listeners, the readable side, its async iterator) cost the S3 door more
 * than reading a 4 KiB request itself (2026-12-03 profile, bench/README).
 */
export async function* checkedBody(pieces: AsyncIterable<Buffer>, body: AuthenticatedBody): AsyncGenerator<Buffer> {
  if (body.takenAsSent) {
    for await (const piece of pieces) {
      body.checkPiece(piece);
      yield piece;
    }
  } else {
    for await (const piece of pieces) {
      const decoded = body.decodePiece(piece);
      shareBodyPiece(piece, decoded);
      yield* decoded;
    }
  }
  body.checkEnd();
}
