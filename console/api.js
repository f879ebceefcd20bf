// The facade's calls, each signed for this page's key pair (signing.js). The key pair lives in
// sessionStorage only (gone when the tab closes) and the secret is never sent: only tokens and
// signatures made from it. Same origin as the facade, so no CORS is involved.
import { bearerToken, presignedPath } from "./signing.js";

const STORAGE_KEY = "minis3.console.keys";

/** A failed call: the facade's JSON error ({error, message}) and the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
  /** The key pair itself is refused (401): the page goes back to sign-in. */
  get signedOut() {
    return this.status === 401;
  }
}

/** What a 401 means to the person at the keyboard. */
export function explain(error) {
  switch (error.code) {
    case "SignatureDoesNotMatch":
      return "The secret key does not match this access key.";
    case "InvalidAccessKeyId":
      return "This access key is not known to the cluster.";
    case "RequestTimeTooSkewed":
      return "This computer's clock is more than 15 minutes from the server's: set the clock and sign in again.";
    default:
      return error.message;
  }
}

export function savedKeys() {
  try {
    const keys = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null");
    return keys && keys.accessKey && keys.secretKey ? keys : null;
  } catch {
    return null;
  }
}

export function saveKeys(keys) {
  if (keys) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(keys));
  else sessionStorage.removeItem(STORAGE_KEY);
}

const query = (params) =>
  Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");

async function errorOf(status, text) {
  try {
    const body = JSON.parse(text);
    return new ApiError(status, body.error ?? `HTTP${status}`, body.message ?? text);
  } catch {
    return new ApiError(status, `HTTP${status}`, text || `HTTP ${status}`);
  }
}

export class Api {
  constructor(keys) {
    this.keys = keys;
    /** Server time minus this machine's, learnt from a Date header when the two are far apart. */
    this.clockOffsetMs = 0;
  }

  now() {
    return Date.now() + this.clockOffsetMs;
  }

  /** Tokens are only good within 15 minutes of the server's clock: follow the server's when ours is off. */
  learnClock(dateHeader) {
    const server = Date.parse(dateHeader ?? "");
    if (!Number.isNaN(server) && Math.abs(server - Date.now()) > 60_000) this.clockOffsetMs = server - Date.now();
  }

  async authorization() {
    return `Bearer ${await bearerToken(this.keys.accessKey, this.keys.secretKey, this.now())}`;
  }

  /** A JSON call; retried once after RequestTimeTooSkewed, with the server's clock. */
  async call(method, path, params = {}, retried = false) {
    const url = `${path}${Object.keys(params).length ? `?${query(params)}` : ""}`;
    const res = await fetch(url, { method, headers: { authorization: await this.authorization() } });
    this.learnClock(res.headers.get("date"));
    const text = await res.text();
    if (res.ok) return text ? JSON.parse(text) : {};
    const error = await errorOf(res.status, text);
    if (error.code === "RequestTimeTooSkewed" && !retried && this.clockOffsetMs !== 0) return this.call(method, path, params, true);
    throw error;
  }

  status() {
    return this.call("GET", "/status");
  }

  /** The next lifecycle transitions cluster-wide, soonest first (an operator's call). */
  upcoming(limit = 20) {
    return this.call("GET", "/status/upcoming", { limit });
  }

  /** Open to anyone: whether the cluster can take writes. */
  async health() {
    const res = await fetch("/healthz");
    return res.json();
  }

  list(bucket, prefix, cursor, limit = 50) {
    return this.call("GET", "/objects", { bucket, prefix, cursor, limit });
  }

  trash(bucket, prefix, cursor, limit = 50) {
    return this.call("GET", "/trash", { bucket, prefix, cursor, limit });
  }

  stat(bucket, key) {
    return this.call("GET", "/stat", { bucket, key });
  }

  remove(bucket, key) {
    return this.call("DELETE", "/delete", { bucket, key });
  }

  undelete(bucket, key) {
    return this.call("POST", "/undelete", { bucket, key });
  }

  /** A URL that downloads the object for five minutes, without the secret or a header. */
  async downloadUrl(bucket, key) {
    const params = { bucket, key };
    return presignedPath({ ...this.keys, host: location.host, path: "/retrieve", params, nowMs: this.now() });
  }

  /**
   * Uploads a file as the raw body (the facade streams it to the replicas). XMLHttpRequest, because
   * fetch reports no upload progress: `onProgress(sentBytes, totalBytes)`. Resolves with the
   * facade's answer; `signal` aborts.
   */
  async upload(bucket, key, file, onProgress, signal) {
    const authorization = await this.authorization();
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `/upload?${query({ bucket, key })}`);
      xhr.setRequestHeader("authorization", authorization);
      xhr.setRequestHeader("content-type", file.type || "application/octet-stream");
      xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
      xhr.onload = async () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText));
        else reject(await errorOf(xhr.status, xhr.responseText));
      };
      xhr.onerror = () => reject(new ApiError(0, "NetworkError", "the upload was cut off (network error)"));
      xhr.onabort = () => reject(new ApiError(0, "Aborted", "upload cancelled"));
      signal?.addEventListener("abort", () => xhr.abort());
      xhr.send(file);
    });
  }
}
