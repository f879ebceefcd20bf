// Which bucket and key a request names: path style (/bucket/key) or virtual-host style
// (Host: bucket.<MINIS3_S3_DOMAIN>, path /key). Keys are percent-decoded once; `+` in a path is a plus.
import { s3Errors } from "./s3-errors";
import type { S3Target } from "./router";

export interface Addressed {
  target: S3Target;
  bucket?: string;
  key?: string;
}

function decode(segment: string): string {
  if (!segment.includes("%")) return segment; // nothing escaped: decodeURIComponent would give it back as it is
  try {
    return decodeURIComponent(segment);
  } catch {
    throw s3Errors.invalidRequest(`the path "${segment.slice(0, 200)}" is not valid percent-encoded UTF-8`);
  }
}

/** The host without its port ("[::1]:9000" → "::1", "b.s3.local:9000" → "b.s3.local"), lower-case. */
export function hostName(host: string | undefined): string {
  if (!host) return "";
  const h = host.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") < 0 ? undefined : h.indexOf("]"));
  const colon = h.lastIndexOf(":");
  return colon < 0 ? h : h.slice(0, colon);
}

/** `domain` "" turns virtual-host addressing off: every request is read path style. */
export function addressOf(rawPath: string, host: string | undefined, domain: string): Addressed {
  const name = hostName(host);
  if (domain !== "" && name.length > domain.length + 1 && name.endsWith(`.${domain}`)) {
    const bucket = name.slice(0, -(domain.length + 1));
    const key = decode(rawPath.replace(/^\//, ""));
    return key === "" ? { target: "bucket", bucket } : { target: "object", bucket, key };
  }
  const path = rawPath.replace(/^\//, "");
  if (path === "") return { target: "service" };
  const slash = path.indexOf("/");
  if (slash < 0 || slash === path.length - 1) return { target: "bucket", bucket: decode(slash < 0 ? path : path.slice(0, slash)) };
  return { target: "object", bucket: decode(path.slice(0, slash)), key: decode(path.slice(slash + 1)) };
}
