import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

// An in-memory stand-in for the coordinator's HTTP facade as the chaos workload uses it (upload,
// retrieve, delete, stat, status, healthz), with one deliberate bug at a time: the chaos checker must
// catch each, or it proves nothing when it passes.

export type FacadeBug =
  /** every 5th acknowledged upload is not stored */
  | "forget-writes"
  /** every 5th acknowledged delete is not done */
  | "skip-deletes"
  /** every 4th read of an overwritten key answers with the version before */
  | "stale-reads"
  /** every 5th read flips a byte */
  | "corrupt-reads"
  /** stat lists one copy only */
  | "one-copy";

interface Version {
  body: Buffer;
  versionId: string;
}

export async function startFaultyFacade(bug?: FacadeBug): Promise<{ url: string; close(): Promise<void> }> {
  const current = new Map<string, Version>();
  const previous = new Map<string, Version>();
  let uploads = 0;
  let deletes = 0;
  let reads = 0;
  const json = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  const notFound = (res: ServerResponse) => json(res, 404, { error: "NotFound", message: "no object" });

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const u = new URL(req.url ?? "/", "http://x");
    const key = u.searchParams.get("key") ?? "";
    const route = `${req.method} ${u.pathname}`;
    if (route === "POST /upload") {
      const v = { body, versionId: randomBytes(8).toString("hex") };
      if (!(bug === "forget-writes" && ++uploads % 5 === 0)) {
        const old = current.get(key);
        if (old) previous.set(key, old);
        current.set(key, v);
      }
      return json(res, 201, { key, size: body.length, sha256: createHash("sha256").update(body).digest("hex"), versionId: v.versionId });
    }
    if (route === "GET /retrieve") {
      let v = current.get(key);
      if (!v) return notFound(res);
      reads++;
      if (bug === "stale-reads" && reads % 4 === 0 && previous.has(key)) v = previous.get(key)!;
      let out = v.body;
      if (bug === "corrupt-reads" && reads % 5 === 0) {
        out = Buffer.from(out);
        out[0] ^= 0xff;
      }
      return res.writeHead(200, { "content-length": out.length, "x-minis3-version-id": v.versionId }).end(out);
    }
    if (route === "DELETE /delete") {
      if (!current.has(key)) return notFound(res);
      if (!(bug === "skip-deletes" && ++deletes % 5 === 0)) current.delete(key);
      return json(res, 200, { key, deleted: true });
    }
    if (route === "GET /stat") {
      const v = current.get(key);
      if (!v) return notFound(res);
      return json(res, 200, { key, versionId: v.versionId, tier: "hot", replicas: bug === "one-copy" ? ["s1"] : ["s1", "s2"] });
    }
    if (route === "GET /status")
      return json(res, 200, {
        nodes: ["s1", "s2", "s3"].map((id) => ({ id, kind: "storage", live: true })),
      });
    if (route === "GET /healthz") return json(res, 200, { status: "ok" });
    return json(res, 404, { error: "NotFound", message: `no such endpoint: ${route}` });
  };

  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => handle(req, res, Buffer.concat(parts)));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
