import { RangeNotSatisfiableError } from "../../common/errors";
import type { ByteRange } from "./object-engine";

/**
 * A range resolved against the size of the version being read, clamped to it. A start past the
 * end, or an empty suffix, is unsatisfiable (416); the error carries the size for Content-Range.
 */
export function resolveRange(range: ByteRange | undefined, size: number): { offset: number; length: number } {
  if (range !== undefined && "suffix" in range) {
    if (range.suffix <= 0 || size === 0) throw new RangeNotSatisfiableError(`the last ${range.suffix} bytes of ${size}`, size);
    const length = Math.min(range.suffix, size);
    return { offset: size - length, length };
  }
  const offset = range?.offset ?? 0;
  if (offset < 0 || (offset >= size && !(offset === 0 && size === 0))) {
    throw new RangeNotSatisfiableError(`range starts at ${offset}, object has ${size} bytes`, size);
  }
  const length = Math.min(range?.length ?? size - offset, size - offset);
  return { offset, length };
}
