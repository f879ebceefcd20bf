import { AsyncLocalStorage } from "node:async_hooks";
import { newRequestId } from "./ids";

// The request id that follows one client request through the coordinator (every log line of its
// work, every node call it makes) and into the lifecycle work it causes.
//
// Why AsyncLocalStorage in the coordinator, not explicit passing: the id must reach every log line
// of a request's work, and that work runs through the engine, replicas, catalogue and node clients,
// whose signatures would all grow an argument that only logging reads. The store follows awaits, so
// the logger's mixin (logger.ts) finds it wherever a line is written. Where many requests' work meets
// (a grouped commit, a packed Exchange message) the batch runs outside any request (`outsideRequests`),
// so a batch's line never claims one of its requests. Nodes are passed the id explicitly (gRPC
// metadata, a field of each Exchange op) and log it themselves: their handlers are few and shallow.

export interface RequestContext {
  readonly requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext | undefined>();

/** The id of the request whose work is running now, if any. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** Runs `fn` (and everything it awaits or schedules) as the work of request `requestId`. */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn);
}

/**
 * Runs `fn` as no request's work: batches that carry many requests, timers of long-lived components.
 * `run(undefined)`, not `exit()`: on Node 20 exit() disables the storage and enables it again, which
 * turns the process's promise hooks off and on (1.45 us per call inside a request, against 0.07-0.11
 * us); what `fn` starts sees no request either way.
 */
export function outsideRequests<T>(fn: () => T): T {
  return storage.run(undefined, fn);
}

/**
 * `fn`, bound to the request running now: a batch calls it for one of its items (outside any
 * request) and its work is still that request's. Unchanged when no request runs.
 */
export function inThisRequest<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  const requestId = currentRequestId();
  return requestId === undefined ? fn : (...args) => withRequestId(requestId, () => fn(...args));
}

/** Client-sent ids are taken when they are short and plain: they go into logs and headers verbatim. */
const SANE_ID = /^[A-Za-z0-9._:+=/-]{1,128}$/;

/** The client's id when it is sane, else a fresh one (a bad one is replaced, never echoed). */
export function acceptRequestId(sent: string | string[] | undefined): string {
  return typeof sent === "string" && SANE_ID.test(sent) ? sent : newRequestId();
}

export const REQUEST_ID_HEADER = "x-request-id";
