// Signing keys and signatures of SigV4: HMAC-SHA256 chained over date, region, service.
import { createHmac, timingSafeEqual } from "node:crypto";

export interface Scope {
  /** YYYYMMDD */
  date: string;
  region: string;
  service: string;
}

export function scopeString(s: Scope): string {
  return `${s.date}/${s.region}/${s.service}/aws4_request`;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

/**
 * Derived keys by secret and scope: a key serves a whole day, and deriving it takes four HMACs
 * (~50 µs measured here). A GET's verification took 110-330 µs with this cache, 340-465 µs without
 * (20,000 each, same sitting, load 11-18 on 2 cores). Bounded: cleared when full.
 */
const derived = new Map<string, Buffer>();
const MAX_DERIVED = 1024;

/** The last key handed out: nearly every request of a day names the same one (no id string to build and hash). */
let last: { secret: string; date: string; region: string; service: string; key: Buffer } | undefined;

export function signingKey(secret: string, s: Scope): Buffer {
  if (last && last.secret === secret && last.date === s.date && last.region === s.region && last.service === s.service) return last.key;
  const key = derivedKey(secret, s);
  last = { secret, date: s.date, region: s.region, service: s.service, key };
  return key;
}

function derivedKey(secret: string, s: Scope): Buffer {
  const id = `${s.date}\0${s.region}\0${s.service}\0${secret}`;
  let key = derived.get(id);
  if (!key) {
    key = hmac(hmac(hmac(hmac("AWS4" + secret, s.date), s.region), s.service), "aws4_request");
    if (derived.size >= MAX_DERIVED) derived.clear();
    derived.set(id, key);
  }
  return key;
}

export function signHex(key: Buffer, stringToSign: string): string {
  return createHmac("sha256", key).update(stringToSign, "utf8").digest("hex");
}

/** Constant-time comparison of two hex signatures (a wrong length is simply unequal). */
export function sameSignature(expected: string, given: string): boolean {
  const a = Buffer.from(expected, "utf8");
  const b = Buffer.from(given.toLowerCase(), "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}
