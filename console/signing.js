// Signing in the browser (ARCHITECTURE.md "Web console"): the secret key never leaves the page. Data
// calls carry a bearer token (services/auth/bearer-token.ts: v1:<access key>:<unix s>:<HMAC>), made
// fresh for each call; a download is a presigned SigV4 URL (five minutes, this one object), so the
// browser streams it to disk instead of holding the object in memory.
//
// HMAC-SHA256 comes from WebCrypto. Browsers offer WebCrypto only in a secure context (https, or
// http to localhost), and a console opened as http://server:8080 is not one, so a small SHA-256 in
// plain JavaScript stands in there (the same results: console-signing.test.ts checks both).

const encoder = new TextEncoder();
const bytesOf = (data) => (typeof data === "string" ? encoder.encode(data) : new Uint8Array(data));
export const toHex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 (FIPS 180-4) of a byte array, in plain JavaScript: for pages without WebCrypto. */
export function sha256Fallback(input) {
  const data = bytesOf(input);
  const padded = new Uint8Array((((data.length + 9 + 63) >> 6) << 6) >>> 0);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(data.length / 0x20000000));
  view.setUint32(padded.length - 4, (data.length << 3) >>> 0);
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
      const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  h.forEach((x, i) => outView.setUint32(i * 4, x));
  return out;
}

/** HMAC-SHA256 (RFC 2104) over sha256Fallback. */
export function hmacFallback(key, message) {
  let k = bytesOf(key);
  if (k.length > 64) k = sha256Fallback(k);
  const inner = new Uint8Array(64 + bytesOf(message).length);
  const outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) {
    inner[i] = (k[i] ?? 0) ^ 0x36;
    outer[i] = (k[i] ?? 0) ^ 0x5c;
  }
  inner.set(bytesOf(message), 64);
  outer.set(sha256Fallback(inner), 64);
  return sha256Fallback(outer);
}

/** WebCrypto when the page has it, else the fallback; `useWebCrypto` is for tests. */
export function cryptoFor(useWebCrypto = Boolean(globalThis.crypto?.subtle)) {
  if (!useWebCrypto) {
    return { sha256: async (data) => sha256Fallback(data), hmac: async (key, message) => hmacFallback(key, message) };
  }
  const subtle = globalThis.crypto.subtle;
  return {
    sha256: async (data) => new Uint8Array(await subtle.digest("SHA-256", bytesOf(data))),
    hmac: async (key, message) => {
      const k = await subtle.importKey("raw", bytesOf(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      return new Uint8Array(await subtle.sign("HMAC", k, bytesOf(message)));
    },
  };
}

/** A bearer token for this key pair, made at `nowMs` (what `npm run token` prints). */
export async function bearerToken(accessKey, secretKey, nowMs, c = cryptoFor()) {
  const seconds = Math.floor(nowMs / 1000);
  const mac = await c.hmac(secretKey, `minis3-bearer-v1\n${accessKey}\n${seconds}`);
  return `v1:${accessKey}:${seconds}:${toHex(mac)}`;
}

/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves ! ' ( ) * as they are). */
export const uriEncode = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * A presigned SigV4 URL (path and query) for GET `path` with `params`, signed for the host `host`,
 * good for `expiresSeconds` from `nowMs`. The facade accepts any region; the signature covers only
 * the host header, so the browser may add what headers it likes.
 */
export async function presignedPath(
  { accessKey, secretKey, host, path, params, nowMs, expiresSeconds = 300, region = "us-east-1" },
  c = cryptoFor(),
) {
  const stamp = new Date(nowMs)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const day = stamp.slice(0, 8);
  const scope = `${day}/${region}/s3/aws4_request`;
  const query = Object.entries({
    ...params,
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": `${accessKey}/${scope}`,
    "X-Amz-Date": stamp,
    "X-Amz-Expires": String(expiresSeconds),
    "X-Amz-SignedHeaders": "host",
  })
    .map(([name, value]) => [uriEncode(name), uriEncode(value)])
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
  const canonicalPath = path.split("/").map(uriEncode).join("/");
  const canonical = ["GET", canonicalPath, query, `host:${host}`, "", "host", "UNSIGNED-PAYLOAD"].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", stamp, scope, toHex(await c.sha256(canonical))].join("\n");
  let key = await c.hmac(`AWS4${secretKey}`, day);
  for (const part of [region, "s3", "aws4_request"]) key = await c.hmac(key, part);
  return `${canonicalPath}?${query}&X-Amz-Signature=${toHex(await c.hmac(key, toSign))}`;
}
