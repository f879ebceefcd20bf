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

export function signingKey(secret: string, s: Scope): Buffer {
  return hmac(hmac(hmac(hmac("AWS4" + secret, s.date), s.region), s.service), "aws4_request");
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
