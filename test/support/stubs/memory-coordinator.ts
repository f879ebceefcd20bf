import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An in-memory stand-in for the coordinator's HTTP facade (upload, retrieve, delete), for testing the
 * bench's own logic. `corruptEvery`: every n-th retrieve flips one byte, as a broken store would;
 * `keepFirstVersion`: an upload to a key that holds an object is acknowledged and dropped, as a store
 * that lost overwrites would; `refuseUploads`: every upload is answered 503, as a store refusing writes.
 */
export async function startMemoryCoordinator(
  opts: { corruptEvery?: number; keepFirstVersion?: boolean; refuseUploads?: boolean } = {},
): Promise<{ url: string; objects: Map<string, Buffer>; close(): Promise<void> }> {
  const objects = new Map<string, Buffer>();
  let retrieves = 0;
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    const key = u.searchParams.get("key") ?? "";
    if (req.method === "POST" && u.pathname === "/upload") {
      const parts: Buffer[] = [];
      req.on("data", (c: Buffer) => parts.push(c));
      req.on("end", () => {
        if (opts.refuseUploads) return void res.writeHead(503).end();
        if (!(opts.keepFirstVersion && objects.has(key))) objects.set(key, Buffer.concat(parts));
        res.writeHead(201).end("{}");
      });
    } else if (req.method === "GET" && u.pathname === "/retrieve") {
      const body = objects.get(key);
      if (!body) return void res.writeHead(404).end();
      retrieves++;
      let out = body;
      if (opts.corruptEvery && retrieves % opts.corruptEvery === 0 && body.length) {
        out = Buffer.from(body);
        out[out.length - 1] ^= 0xff;
      }
      res.writeHead(200, { "content-length": out.length }).end(out);
    } else if (req.method === "DELETE" && u.pathname === "/delete") {
      res.writeHead(objects.delete(key) ? 204 : 404).end();
    } else if (u.pathname === "/healthz") {
      res.writeHead(200).end("ok");
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    objects,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
