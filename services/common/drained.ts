import type { EventEmitter } from "node:events";

/**
 * Waits for room in a stream whose write() returned false (a socket, an HTTP response); false if it
 * was destroyed (the peer went away), its "close" perhaps already emitted. Plain listeners: an
 * AbortController per wait (once() with a signal) made a DOMException per 256 KiB chunk, ~6 % of a
 * storage node's CPU on a 64 MiB read (--cpu-prof, 2026-12-01).
 */
export function drained(out: EventEmitter & { readonly destroyed: boolean }): Promise<boolean> {
  if (out.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = () => {
      out.off("drain", done);
      out.off("close", done);
      resolve(!out.destroyed);
    };
    out.on("drain", done);
    out.on("close", done);
  });
}
