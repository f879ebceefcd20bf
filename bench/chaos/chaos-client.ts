import { createHash } from "node:crypto";
import { Pool, type Dispatcher } from "undici";
import { authorizationFor } from "../../deploy/launcher/client-credentials";

// The chaos workload's HTTP side: one keep-alive pool per front door. Every answer is sorted into
// what the checker needs: done (with what the coordinator said), absent (404 NotFound), refused
// (the connection was never made, so the request reached no coordinator) or failed (anything else:
// the request may or may not have been carried out).

export type Answer<T> =
  { kind: "ok"; value: T } | { kind: "absent" } | { kind: "refused"; reason: string } | { kind: "failed"; reason: string };

export interface Uploaded {
  versionId: string;
  sha256: string;
  size: number;
}

export interface Retrieved {
  sha256: string;
  size: number;
  versionId: string;
}

export interface Stat {
  versionId: string;
  sha256: string;
  tier: string;
  replicas: string[];
}

export interface StatusNode {
  id: string;
  kind: string;
  live: boolean;
}

const q = (key: string) => encodeURIComponent(key);

function failed<T>(e: unknown): Answer<T> {
  const err = e as { code?: string; name?: string; message?: string };
  const reason = err.code ?? err.name ?? err.message ?? "error";
  return reason === "ECONNREFUSED" ? { kind: "refused", reason } : { kind: "failed", reason };
}

interface Body {
  text(): Promise<string>;
}

/**
 * Sorts a non-2xx answer: 404 "NotFound" (the facade's name for NoSuchKey) is the key's absence;
 * anything else failed, named by its status and error name. The body can be read only once.
 */
async function notOk<T>(statusCode: number, body: Body): Promise<Answer<T>> {
  const text = await body.text().catch(() => "");
  let name = "";
  let message = "";
  try {
    ({ error: name = "", message = "" } = JSON.parse(text) as { error?: string; message?: string });
  } catch {
    // not JSON: the status alone
  }
  if (statusCode === 404 && name === "NotFound") return { kind: "absent" };
  // Numbers and ids left out of the message, so that failures of one cause count together.
  const cause = message.replace(/[0-9a-f]{8,}|\d+/g, "#").slice(0, 80);
  return { kind: "failed", reason: `http ${statusCode}${name ? ` ${name}` : ""}${cause ? `: ${cause}` : ""}` };
}

export class ChaosClient {
  private readonly pools: Pool[];

  constructor(
    readonly targets: readonly string[],
    connectionsPerTarget: number,
    timeoutMs: number,
  ) {
    this.pools = targets.map(
      (t) =>
        new Pool(t, {
          connections: connectionsPerTarget,
          pipelining: 1,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          connectTimeout: Math.min(timeoutMs, 10_000),
          keepAliveTimeout: 10_000,
        }),
    );
  }

  async upload(door: number, key: string, body: Buffer): Promise<Answer<Uploaded>> {
    try {
      const res = await this.pools[door].request({
        path: `/upload?key=${q(key)}`,
        method: "POST",
        body,
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(body.length),
          ...authorizationFor(this.targets[door]),
        },
      });
      if (res.statusCode !== 201) {
        const answer = await notOk<Uploaded>(res.statusCode, res.body);
        return answer.kind === "absent" ? { kind: "failed", reason: "http 404" } : answer;
      }
      const json = (await res.body.json()) as Uploaded;
      return { kind: "ok", value: { versionId: json.versionId, sha256: json.sha256, size: json.size } };
    } catch (e) {
      return failed(e);
    }
  }

  /**
   * One call that answers 200 with a body `read` turns into the value; any other status is sorted by
   * notOk, a transport failure by failed.
   */
  private async call<T>(
    door: number,
    method: "GET" | "DELETE",
    path: string,
    read: (res: Dispatcher.ResponseData) => Promise<T>,
  ): Promise<Answer<T>> {
    try {
      const res = await this.pools[door].request({ path, method, headers: authorizationFor(this.targets[door]) });
      if (res.statusCode !== 200) return await notOk(res.statusCode, res.body);
      return { kind: "ok", value: await read(res) };
    } catch (e) {
      return failed(e);
    }
  }

  /** GET /retrieve, hashing the body as it streams in. */
  retrieve(door: number, key: string): Promise<Answer<Retrieved>> {
    return this.call(door, "GET", `/retrieve?key=${q(key)}`, async (res) => {
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of res.body) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      return { sha256: hash.digest("hex"), size, versionId: String(res.headers["x-minis3-version-id"] ?? "") };
    });
  }

  delete(door: number, key: string): Promise<Answer<true>> {
    return this.call(door, "DELETE", `/delete?key=${q(key)}`, async (res) => {
      await res.body.dump();
      return true as const;
    });
  }

  stat(door: number, key: string): Promise<Answer<Stat>> {
    return this.call(door, "GET", `/stat?key=${q(key)}`, async (res) => (await res.body.json()) as Stat);
  }

  nodes(door: number): Promise<Answer<StatusNode[]>> {
    return this.call(door, "GET", "/status", async (res) => ((await res.body.json()) as { nodes: StatusNode[] }).nodes);
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.close()));
  }
}
