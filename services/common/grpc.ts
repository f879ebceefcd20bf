import * as grpc from "@grpc/grpc-js";
import type { EventEmitter } from "node:events";
import type { ServerHttp2Session } from "node:http2";
import { hostPort } from "./net-address";

/**
 * HTTP/2 flow-control window for object bytes. The default 64 KiB per stream makes every 256 KiB
 * chunk wait for several WINDOW_UPDATE round trips, which on two busy cores caps a stream at tens
 * of MB/s; a few chunks' worth keeps it moving (memory stays bounded by the window).
 */
export const FLOW_CONTROL_WINDOW = 4 * 1024 * 1024;

/** Channel and server options shared by every process: chunks stay well under 4 MiB. */
export const GRPC_OPTIONS: grpc.ChannelOptions = {
  "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW,
  // Our calls are not idempotent to replay blindly (and callers fail over themselves); grpc-js's
  // retry layer would also hold every message of a stream for a possible replay.
  "grpc.enable_retries": 0,
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
  "grpc.max_send_message_length": 16 * 1024 * 1024,
  // grpc-js waits 1 s × 1.6ⁿ (up to 120 s) between connection attempts to a node that was away:
  // a storage node restarted after ~15 s was only dialled again 6-10 s after it was back. A refused
  // connect to a down node costs next to nothing, so try every 2 s at most.
  "grpc.initial_reconnect_backoff_ms": 250,
  "grpc.max_reconnect_backoff_ms": 2_000,
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.http2.min_time_between_pings_ms": 5_000,
  "grpc.http2.max_pings_without_data": 0,
};

export const SERVER_OPTIONS: grpc.ServerOptions = {
  ...GRPC_OPTIONS,
  "grpc.http2.min_ping_interval_without_data_ms": 4_000,
};

/** Binds a server; returns the port actually bound (useful with port 0). */
export function bindServer(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const addr = hostPort(host, port);
    server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) return reject(err);
      widenReceiveWindows(server);
      resolve(bound);
    });
  });
}

/**
 * grpc-js servers have no option for their receive window (clients do), so raise it on each
 * connection as it arrives: uploads stream to the server. Reaches into grpc-js's list of its
 * http2 servers (those it listens with and those of its connection injectors); if that changes
 * shape, this does nothing and the default window applies. Call it after each bind or injector.
 */
export function widenReceiveWindows(server: grpc.Server): void {
  const servers = (server as unknown as { http2Servers?: Map<EventEmitter, unknown> }).http2Servers;
  if (!(servers instanceof Map)) return;
  for (const h2 of servers.keys()) {
    if ((h2 as EventEmitter & { [WIDENED]?: boolean })[WIDENED]) continue;
    (h2 as EventEmitter & { [WIDENED]?: boolean })[WIDENED] = true;
    h2.on("session", (session: ServerHttp2Session) => {
      try {
        session.settings({ initialWindowSize: FLOW_CONTROL_WINDOW });
        session.setLocalWindowSize(4 * FLOW_CONTROL_WINDOW);
      } catch {
        // a session closing as it opens: nothing to widen
      }
    });
  }
}

const WIDENED = Symbol("minis3.widenedWindows");

export function shutdownServer(server: grpc.Server, graceMs = 3000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
