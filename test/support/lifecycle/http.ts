import { hashStream, randomStream, type StreamedDigest } from "./bodies";

// Streaming HTTP calls against the coordinator's facade: neither direction buffers the body.

const q = encodeURIComponent;

export interface StreamedRead extends StreamedDigest {
  status: number;
  /** x-minis3-tier: where the bytes came from (hot or cold). */
  tier: string | null;
  versionId: string | null;
  /** The error body of a non-2xx answer (for the failure message). */
  error?: string;
}

/** GET /retrieve, hashing the body as it arrives. */
export async function retrieveHashed(base: string, key: string): Promise<StreamedRead> {
  const res = await fetch(`${base}/retrieve?key=${q(key)}`);
  if (!res.ok) return { status: res.status, tier: null, versionId: null, size: 0, sha256: "", error: await res.text() };
  const digest = await hashStream(res.body as unknown as AsyncIterable<Uint8Array> | null);
  return { status: res.status, tier: res.headers.get("x-minis3-tier"), versionId: res.headers.get("x-minis3-version-id"), ...digest };
}

/** POST /upload of `size` random bytes generated on the fly; returns what was sent and the answer. */
export async function uploadRandomStream(base: string, key: string, size: number): Promise<{ sent: StreamedDigest; status: number; json: Record<string, unknown> }> {
  const { stream, digest } = randomStream(size);
  const res = await fetch(`${base}/upload?key=${q(key)}`, {
    method: "POST",
    body: stream,
    headers: { "content-type": "application/octet-stream", "content-length": String(size) },
    duplex: "half",
  } as RequestInit & { duplex: "half" });
  const json = (await res.json()) as Record<string, unknown>;
  return { sent: await digest, status: res.status, json };
}

/** POST with a JSON answer (undelete); the status is returned, not thrown. */
export async function postJson(url: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: "POST" });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
