/**
 * Memory aligned for O_DIRECT file I/O: fixed slabs carved out of one WebAssembly.Memory, whose
 * base V8 maps page-aligned (a Node Buffer is malloc's, 16-byte aligned, which O_DIRECT refuses).
 * Never grown (growing would detach every slab), so a slab's address stays put for the process's
 * life. Pages are touched only when a slab is first used.
 */
export const DIRECT_ALIGN = 4096;

// The one part of the WebAssembly global this needs (the project's lib has no DOM or wasm types).
declare const WebAssembly: { Memory: new (size: { initial: number; maximum: number }) => { buffer: ArrayBuffer } };

export class AlignedSlabs {
  private readonly free: Buffer[] = [];

  /** `count` slabs of `slabBytes` each (a multiple of DIRECT_ALIGN). */
  constructor(
    count: number,
    readonly slabBytes: number,
  ) {
    if (slabBytes % DIRECT_ALIGN !== 0) throw new RangeError(`slab size ${slabBytes} is not a multiple of ${DIRECT_ALIGN}`);
    const pages = Math.ceil((count * slabBytes) / 65536);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    for (let i = 0; i < count; i++) this.free.push(Buffer.from(memory.buffer, i * slabBytes, slabBytes));
  }

  /** A slab, or undefined when all are in use (the caller then does without: buffered I/O). */
  take(): Buffer | undefined {
    return this.free.pop();
  }

  /** Hands a slab back; only once no I/O on it is in flight. */
  give(slab: Buffer): void {
    this.free.push(slab);
  }

  get available(): number {
    return this.free.length;
  }
}

/** `n` rounded up to a multiple of DIRECT_ALIGN. */
export function alignUp(n: number): number {
  return Math.ceil(n / DIRECT_ALIGN) * DIRECT_ALIGN;
}

/** `n` rounded down to a multiple of DIRECT_ALIGN. */
export function alignDown(n: number): number {
  return Math.floor(n / DIRECT_ALIGN) * DIRECT_ALIGN;
}
