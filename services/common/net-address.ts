// MINIS3_HOST is where a process listens, and may be a wildcard; what others dial must be a real
// address. The launcher's plan, a node advertising itself in the nodes table, the coordinator's
// launcher URL and the gRPC bind all go through these two, so they agree.

/**
 * The address others dial for a listen host that may be a wildcard: the loopback of the same
 * family. A socket bound to :: always accepts on ::1, but on 127.0.0.1 only when the OS maps IPv4
 * into it (bindv6only=0), hence ::1 rather than 127.0.0.1 for ::.
 */
export function dialableHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "::1";
  return host;
}

/** host:port, with an IPv6 literal in brackets (as grpc-js targets and URLs want it). */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
