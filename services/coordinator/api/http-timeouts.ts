import type { Config } from "../../common/config";

/** The settings behind HttpTimeouts (MINIS3_HTTP_*_TIMEOUT; defaults and docs in common/config.ts). */
export const HTTP_TIMEOUT_SETTINGS = ["httpIdleTimeout", "httpHeadersTimeout", "httpRequestTimeout", "httpKeepAliveTimeout"] as const;

/**
 * What a client may hold a connection for. The guard against a stalled client is `idleMs`: it
 * measures silence, not duration, so a 5 GiB upload on a slow link that keeps moving is never cut,
 * while one that stops sending (or stops reading a download) frees its node stream after idleMs.
 * `requestMs` limits the whole request, body included, so it is off by default.
 */
export interface HttpTimeouts {
  /** No byte in or out for this long: the connection is closed (node's socket timeout). */
  idleMs: number;
  /** The request line and headers must all arrive within this: a trickle of header bytes is cut (408). */
  headersMs: number;
  /** The whole request must arrive within this; 0: no limit. */
  requestMs: number;
  /** An idle keep-alive connection between requests is closed after this. */
  keepAliveMs: number;
}

export function httpTimeouts(cfg: Config<(typeof HTTP_TIMEOUT_SETTINGS)[number]>): HttpTimeouts {
  return {
    idleMs: cfg.httpIdleTimeout,
    headersMs: cfg.httpHeadersTimeout,
    requestMs: cfg.httpRequestTimeout,
    keepAliveMs: cfg.httpKeepAliveTimeout,
  };
}
