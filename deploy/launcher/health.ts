// Waiting for a coordinator to report healthy (GET /healthz answers 200: the catalogue answers and
// enough storage nodes are live).
import { authorizationFor } from "./client-credentials";
import { ErrorCode, MiniS3Error } from "../../services/common/errors";

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Checked between polls: a reason to give up early (a process failed for good), or undefined. */
  giveUp?: () => string | undefined;
}

export class NotHealthyError extends MiniS3Error {
  constructor(message: string) {
    super(ErrorCode.NotHealthy, message);
  }
}

/** Resolves once GET <baseUrl>/healthz answers 200; throws NotHealthyError with the last answer otherwise. */
export async function waitForHealthy(baseUrl: string, opts: WaitOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = "no answer yet";
  for (;;) {
    const reason = opts.giveUp?.();
    if (reason) throw new NotHealthyError(`gave up waiting for ${baseUrl}/healthz: ${reason}`);
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      const body = (await res.text()).slice(0, 300);
      if (res.status === 200) return;
      last = `HTTP ${res.status} ${body}`;
    } catch (e) {
      last = (e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message;
    }
    if (Date.now() >= deadline) {
      throw new NotHealthyError(`${baseUrl}/healthz not 200 after ${opts.timeoutMs} ms (last: ${last})`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}

/** True when something answers 200 on <baseUrl>/healthz right now. */
export async function isHealthy(baseUrl: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Resolves once the coordinator's /status shows every one of `nodeIds` live. /healthz turns 200 as
 * soon as a write quorum of storage nodes is live; a test that starts right then finds the other
 * nodes not yet in its coordinator's view, and a key whose preference list leads to a node it
 * means to fail has nowhere to fall over (seen on a loaded CI machine: 9 of 12 uploads 503). A
 * coordinator without /status (the harness's stubs) is taken at its /healthz word.
 */
export async function waitForNodesLive(baseUrl: string, nodeIds: readonly string[], opts: WaitOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let missing: string[] = [...nodeIds];
  for (;;) {
    const reason = opts.giveUp?.();
    if (reason) throw new NotHealthyError(`gave up waiting for every node to be live: ${reason}`);
    try {
      // /status waits up to ~3 s for Redis's queue depths when Redis is away: give it longer.
      const res = await fetch(`${baseUrl}/status`, { headers: authorizationFor(baseUrl), signal: AbortSignal.timeout(10_000) });
      if (res.status === 404) return;
      if (res.status === 200) {
        const { nodes } = (await res.json()) as { nodes?: { id: string; live: boolean }[] };
        const live = new Set((nodes ?? []).filter((n) => n.live).map((n) => n.id));
        missing = nodeIds.filter((id) => !live.has(id));
        if (!missing.length) return;
      } else await res.arrayBuffer();
    } catch {
      // not answering yet: poll again
    }
    if (Date.now() >= deadline) throw new NotHealthyError(`nodes not live after ${opts.timeoutMs} ms: ${missing.join(", ")}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}
