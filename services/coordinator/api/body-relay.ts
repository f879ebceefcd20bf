// Large reads written on by every HTTP door (facade and S3).
import type { ServerResponse } from "node:http";
import { drained } from "../../common/drained";
import type { ObjectBody } from "../model/object-body";

/**
 * Writes `body` to the response (its head already written or set) and ends it, waiting for room
 * when the client reads slower than the nodes send. A chunk is handed back (body.recycle) only in
 * its write's callback, once the socket is done with it: handed back on write()'s return, it could
 * be read into while still queued in the response, and the client would get other bytes. Not
 * Readable.from piped into the response, which cannot tell when a chunk was written.
 *
 * A body that fails (a replica cut, a copy found corrupt) destroys the response: the client sees a
 * cut body, never a complete one. When the client goes away, return() on the body cancels the read
 * on the node.
 */
export async function relayBody(res: ServerResponse, body: ObjectBody): Promise<void> {
  const it = body[Symbol.asyncIterator]();
  const recycle = body.recycle?.bind(body);
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      if (res.destroyed) return; // the client went away meanwhile
      const chunk = r.value;
      const written = recycle ? res.write(chunk, (e) => e || recycle(chunk)) : res.write(chunk);
      if (!written && !(await drained(res))) return;
    }
    res.end();
  } catch (e) {
    res.destroy(e as Error);
  } finally {
    await it.return?.();
  }
}
