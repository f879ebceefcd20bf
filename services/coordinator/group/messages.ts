// What the group's primary and its workers say to each other over the cluster IPC channel, besides
// Node's own messages: the primary hands a worker each new connection, a worker says when it serves
// and how busy it is.

/** The ports a coordinator serves on. */
export type Door = "http" | "grpc" | "s3";
export const DOORS: readonly Door[] = ["http", "grpc", "s3"];
export type DoorPorts = Record<Door, number>;

/** Primary → worker, with the connection's socket as the message's handle. */
export interface ConnectionMessage {
  minis3: "connection";
  door: Door;
}

/** Worker → primary: "ready" once every door serves, "closing" when it starts to stop. */
export interface WorkerStateMessage {
  minis3: "ready" | "closing";
}

/**
 * Worker → primary, every REPORT_MS while it serves: its event loop was busy `elu` (0-1) of the time
 * since its previous report (connection-placement.ts).
 */
export interface WorkerLoadMessage {
  minis3: "load";
  elu: number;
  /** Its presence lease admits writes (false while it re-joins, e.g. after a SIGSTOP outlasted it). */
  writable: boolean;
}

export function isConnectionMessage(m: unknown): m is ConnectionMessage {
  const c = m as Partial<ConnectionMessage> | null;
  return typeof c === "object" && c !== null && c.minis3 === "connection" && DOORS.includes(c.door as Door);
}

export function isWorkerStateMessage(m: unknown): m is WorkerStateMessage {
  const s = m as Partial<WorkerStateMessage> | null;
  return typeof s === "object" && s !== null && (s.minis3 === "ready" || s.minis3 === "closing");
}

export function isWorkerLoadMessage(m: unknown): m is WorkerLoadMessage {
  const l = m as Partial<WorkerLoadMessage> | null;
  return typeof l === "object" && l !== null && l.minis3 === "load" && typeof l.elu === "number" && typeof l.writable === "boolean";
}
