// HTTP Range requests (RFC 9110 §14), single byte ranges only. A header we cannot use (syntax we do
// not understand, several ranges) is ignored and the whole object is served, as the RFC allows.
// The range is parsed without the size: the engine resolves it on the version it reads.
import type { ByteRange } from "../objects/object-engine";

const SINGLE_RANGE_RE = /^bytes=(\d*)-(\d*)$/i;

/** The range a Range header asks for, or undefined for the whole object. */
export function parseRange(header: string | undefined): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = SINGLE_RANGE_RE.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") return { suffix: Number(m[2]) }; // "-n": the last n bytes
  const first = Number(m[1]);
  if (m[2] === "") return { offset: first };
  const last = Number(m[2]);
  return last < first ? undefined : { offset: first, length: last - first + 1 };
}

export function contentRange(offset: number, length: number, size: number): string {
  return `bytes ${offset}-${offset + length - 1}/${size}`;
}
