import * as grpc from "@grpc/grpc-js";

/** Channel and server options shared by every process: chunks stay well under 4 MiB. */
export const GRPC_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
  "grpc.max_send_message_length": 16 * 1024 * 1024,
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
    const addr = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
}

export function shutdownServer(server: grpc.Server, graceMs = 3000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, graceMs);
    server.tryShutdown(() => { clearTimeout(timer); resolve(); });
  });
}
