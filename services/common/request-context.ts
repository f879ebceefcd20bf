import { newRequestId } from "./ids";

// The request id that follows one client request through the coordinator (every log line of its
// work, every node call it makes) and into the lifecycle work it causes.
//
// Passed explicitly, never held in AsyncLocalStorage: the front doors read it and hand it down as
// an argument or a field of the input (`requestId?: string`: undefined for work no request caused),
// and the code that logs or calls a node names it. On Node 20 a store entered once makes every
// promise and await of the process pay the promise hooks: with it stubbed out the coordinator's
// CPU per op fell 5-36 % in three interleaved pairs (ARCHITECTURE.md "Request ids"). A batch that
// carries many requests' work (a grouped commit, a packed Exchange message) names none of them
// itself; each item carries its own id where it goes on.

/** The id of the request a piece of work belongs to; undefined for work no request caused. */
export type RequestId = string | undefined;

/** Client-sent ids are taken when they are short and plain: they go into logs and headers verbatim. */
const SANE_ID = /^[A-Za-z0-9._:+=/-]{1,128}$/;

/** The client's id when it is sane, else a fresh one (a bad one is replaced, never echoed). */
export function acceptRequestId(sent: string | string[] | undefined): string {
  return typeof sent === "string" && SANE_ID.test(sent) ? sent : newRequestId();
}

export const REQUEST_ID_HEADER = "x-request-id";
