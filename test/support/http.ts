// Small HTTP helpers for integration tests against the coordinator's facade (global fetch, i.e. undici).

export interface HttpResult {
  status: number;
  headers: Headers;
  body: Buffer;
}

async function call(method: string, url: string, body?: Buffer | string): Promise<HttpResult> {
  const res = await fetch(url, {
    method,
    body,
    headers: body === undefined ? undefined : { "content-type": "application/octet-stream" },
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

const q = (key: string) => encodeURIComponent(key);

export const upload = (base: string, key: string, body: Buffer | string) => call("POST", `${base}/upload?key=${q(key)}`, body);
export const retrieve = (base: string, key: string) => call("GET", `${base}/retrieve?key=${q(key)}`);
export const remove = (base: string, key: string) => call("DELETE", `${base}/delete?key=${q(key)}`);
export const stat = (base: string, key: string) => call("GET", `${base}/stat?key=${q(key)}`);

/** GET a JSON endpoint (/status, /objects, /stat); throws on a non-2xx answer. */
export async function getJson<T = unknown>(url: string): Promise<T> {
  const res = await fetch(url);
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}
