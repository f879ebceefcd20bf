import { connect } from "node:net";

/** What a client that reads only after sending saw: the answer's head, or the socket error that took it. */
export interface SentThenRead {
  /** The answer's status line and headers ("" when none arrived). */
  head: string;
  /** The socket's error code (EPIPE, ECONNRESET) when one ended the exchange. */
  error?: string;
  /** Body bytes the client had handed to its socket when the exchange ended. */
  bodySent: number;
}

/**
 * A client in the way of Python's http.client and most simple HTTP tools: it writes the request's
 * head and all of `bodyBytes` of body, and only then reads the answer. A server that answers early
 * and closes on bytes it has not read resets the connection, and such a client never sees the answer.
 */
export function sendThenRead(port: number, head: string, bodyBytes: number): Promise<SentThenRead> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let text = "";
    let error: string | undefined;
    let bodySent = 0;
    socket.pause(); // nothing is read until the body has gone
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    // The server is expected to close; a connection it keeps open is ended here after 10 s.
    const giveUp = setTimeout(() => socket.destroy(), 10_000);
    socket.on("close", () => {
      clearTimeout(giveUp);
      resolve({ head: text.split("\r\n\r\n", 1)[0], error, bodySent });
    });
    socket.write(head);
    const piece = Buffer.alloc(64 * 1024, 0x61);
    const pump = (): void => {
      while (bodySent < bodyBytes && !socket.destroyed) {
        const n = Math.min(piece.length, bodyBytes - bodySent);
        bodySent += n;
        if (!socket.write(n === piece.length ? piece : piece.subarray(0, n))) {
          socket.once("drain", pump);
          return;
        }
      }
      socket.resume();
    };
    pump();
  });
}
