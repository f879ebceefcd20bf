// Whether a client reset (cancelled) a client-streaming call's request stream, seen on the http2
// stream itself. A client that cancels with RST_STREAM before ending its stream makes Node's http2
// end the request stream exactly as a half-close would, and grpc-js reports the cancel only once
// the stream is destroyed: measured 1–6 ms and two event-loop turns after 'end' (grpc-js 1.14,
// Node 20). The http2 stream knows at once (`aborted`, a non-zero `rstCode`), but grpc-js keeps it
// private: this is the one place that reaches for it, and `grpc-call-reader.test.ts` fails if a
// grpc-js upgrade moves it. (grpc-js's own client sends END_STREAM first, then RST_STREAM: that
// order only time tells, see CANCEL_GRACE_MS in grpc-call-reader.ts.)
import type { ServerReadableStream } from "@grpc/grpc-js";
import type { ServerHttp2Stream } from "node:http2";

interface CallLink {
  stream?: ServerHttp2Stream;
  nextCall?: CallLink;
}

/**
 * The http2 stream under a server call: the handler's call wraps grpc-js's interceptor chain
 * (`call.call`, each link's `nextCall`), whose innermost link holds the stream. Undefined if not found.
 */
export function http2StreamOf(call: ServerReadableStream<unknown, unknown>): ServerHttp2Stream | undefined {
  let link = (call as unknown as { call?: CallLink }).call;
  for (let depth = 0; link && depth < 32; depth++) {
    if (link.stream && typeof link.stream.rstCode === "number") return link.stream;
    link = link.nextCall;
  }
  return undefined;
}

/**
 * Whether the client reset (cancelled) the request stream: true/false from the http2 stream, or
 * undefined when it cannot be seen (then the caller must wait for grpc-js's own cancel report).
 */
export function requestStreamReset(call: ServerReadableStream<unknown, unknown>): boolean | undefined {
  const stream = http2StreamOf(call);
  if (!stream) return undefined;
  // NGHTTP2_NO_ERROR is 0; `aborted` is set when the peer reset before we finished answering.
  return stream.aborted || stream.rstCode !== 0;
}
