import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Whether nothing listens on host:port right now (by binding it briefly). */
export function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive free TCP ports on 127.0.0.1, from below Linux's ephemeral range (32768+) so an
 * outgoing connection cannot take one between this check and the service binding it.
 */
export async function findFreePortBlock(count: number, host = "127.0.0.1"): Promise<number> {
  const low = 20_000;
  const high = 32_000 - count;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await isPortFree(p, host);
    if (ok) return base;
  }
  throw new Error(`no block of ${count} free ports found on ${host}`);
}

/** The kernel's range of source ports for outgoing connections, or undefined where it cannot be read. */
export function ephemeralPortRange(path = "/proc/sys/net/ipv4/ip_local_port_range"): [number, number] | undefined {
  try {
    const [low, high] = readFileSync(path, "utf8").trim().split(/\s+/).map(Number);
    return Number.isInteger(low) && Number.isInteger(high) ? [low, high] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The ports of `ports` inside `range`. A node binds its port again at every restart; one inside the
 * ephemeral range can meanwhile be the source port of some outgoing connection (seen: a delete node
 * on 50104 failed to listen four times, its port held by another process's connection to Redis).
 */
export function portsInRange(ports: number[], range: [number, number] | undefined): number[] {
  return range ? ports.filter((p) => p >= range[0] && p <= range[1]) : [];
}
