import * as grpc from "@grpc/grpc-js";
import type * as http from "node:http";
import * as net from "node:net";
import { shutdownServer, widenReceiveWindows } from "../../common/grpc";

/** Every HTTP/2 connection (gRPC) opens with this preface; an HTTP/1.1 request line never does. */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export interface SharedPort {
  port: number;
  /** Stops taking connections; gives open ones `graceMs` to finish, then cuts them. */
  close(graceMs: number): Promise<void>;
}

/**
 * One listening port for a node's gRPC service and its blob plane (rpc/blob-plane.ts): each
 * connection's first bytes say which (the HTTP/2 preface, or an HTTP/1.1 request line), and the
 * connection goes to that server as if it had accepted it. One port keeps the nodes table, the
 * launcher's plan and every address as they were; node:http2 reads what was peeked from the
 * socket's buffer, and so does node:http.
 */
export async function listenShared(grpcServer: grpc.Server, blobServer: http.Server, host: string, port: number): Promise<SharedPort> {
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  widenReceiveWindows(grpcServer);
  // node:http tracks its connections (closeIdleConnections) once it has emitted 'listening'.
  blobServer.emit("listening");
  const blobSockets = new Set<net.Socket>();
  const listener = net.createServer({ noDelay: true }, (socket) => {
    socket.on("error", () => undefined); // a peer gone before it said anything
    const sniff = () => {
      const head = socket.read() as Buffer | null;
      if (head === null) return void socket.once("readable", sniff);
      const prefix = HTTP2_PREFACE.subarray(0, Math.min(head.length, HTTP2_PREFACE.length));
      if (head.length < HTTP2_PREFACE.length && head.equals(prefix)) {
        // The preface so far, split across reads: wait for the rest.
        socket.unshift(head);
        return void socket.once("readable", sniff);
      }
      socket.unshift(head);
      if (head.subarray(0, prefix.length).equals(prefix)) return injector.injectConnection(socket);
      blobSockets.add(socket);
      socket.once("close", () => blobSockets.delete(socket));
      blobServer.emit("connection", socket);
    };
    socket.once("readable", sniff);
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen({ host: host.replace(/^\[(.*)\]$/, "$1"), port }, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  return {
    port: (listener.address() as net.AddressInfo).port,
    async close(graceMs) {
      listener.close();
      blobServer.closeIdleConnections();
      // A blob read still going after the grace is cut: the coordinator resumes it on another replica.
      await shutdownServer(grpcServer, graceMs);
      injector.destroy();
      for (const s of blobSockets) s.destroy();
    },
  };
}
