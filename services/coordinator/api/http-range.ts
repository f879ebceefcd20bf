// HTTP Range requests (RFC 9110 §14), single byte ranges only. A header we cannot use (syntax we do
// not understand, several ranges) is ignored and the whole object is served, as the RFC allows.

export type RangeDecision = { kind: "whole" } | { kind: "unsatisfiable" } | { kind: "partial"; offset: number; length: number };

const SINGLE_RANGE_RE = /^bytes=(\d*)-(\d*)$/i;

export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: "whole" };
  const m = SINGLE_RANGE_RE.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return { kind: "whole" };

  if (m[1] === "") {
    // "-n": the last n bytes.
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    const length = Math.min(suffix, size);
    return { kind: "partial", offset: size - length, length };
  }

  const first = Number(m[1]);
  if (m[2] !== "" && Number(m[2]) < first) return { kind: "whole" };
  if (first >= size) return { kind: "unsatisfiable" };
  const last = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { kind: "partial", offset: first, length: last - first + 1 };
}

export function contentRange(offset: number, length: number, size: number): string {
  return `bytes ${offset}-${offset + length - 1}/${size}`;
}
