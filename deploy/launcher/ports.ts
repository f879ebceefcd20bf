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
