import * as grpc from "@grpc/grpc-js";
import type { Server } from "node:http";
import type { Socket } from "node:net";
import { performance, type EventLoopUtilization } from "node:perf_hooks";
import type { Logger } from "../../common/logger";
import { widenReceiveWindows } from "../../common/grpc";
import type { FrontDoors } from "../front-doors";
import { REPORT_MS } from "./connection-placement";
import { isConnectionMessage, type Door, type WorkerLoadMessage, type WorkerStateMessage } from "./messages";

/** While closing, how often connections that have become idle are closed. */
const IDLE_POLL_MS = 50;

/**
 * A group worker's doors: the primary listens and passes each connection it hands this worker over
 * the IPC channel (connection-hand-off.ts); the worker feeds it to the door's server as if that
 * server had accepted it. The worker tells the primary when it is ready, how busy its event loop is
 * while it serves (every REPORT_MS: the primary places new connections by it), and when it starts
 * closing.
 */
export class GroupWorkerDoors implements FrontDoors {
  private readonly takers = new Map<Door, (socket: Socket) => void>();
  private readonly httpServers: Server[] = [];
  /** HTTP connections taken and still open: net's close() does not count them (it did not accept them). */
  private readonly taken = new Set<Socket>();
  private reports?: NodeJS.Timeout;

  constructor(
    private readonly log: Logger,
    private readonly ports: Record<Door, number>,
    private readonly drainMs: number,
    /** Whether this coordinator may write now (its presence lease): reported with the load. */
    private readonly writable: () => boolean,
  ) {
    process.on("message", (m: unknown, socket?: Socket) => {
      if (!isConnectionMessage(m) || !socket) return;
      const take = this.takers.get(m.door);
      if (take) take(socket);
      else socket.destroy(); // not set up: the primary only hands connections once told "ready"
    });
  }

  grpc(server: grpc.Server): Promise<number> {
    const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    widenReceiveWindows(server);
    this.takers.set("grpc", (socket) => injector.injectConnection(socket));
    return Promise.resolve(this.ports.grpc);
  }

  http(server: Server): Promise<number> {
    return this.serveHttp("http", server);
  }

  s3(server: Server): Promise<number> {
    return this.serveHttp("s3", server);
  }

  private serveHttp(door: "http" | "s3", server: Server): Promise<number> {
    // Node's http server starts tracking its connections (headers and request timeouts,
    // closeIdleConnections) when it emits 'listening'; this one never listens itself.
    server.emit("listening");
    this.httpServers.push(server);
    this.takers.set(door, (socket) => {
      this.taken.add(socket);
      socket.once("close", () => this.taken.delete(socket));
      server.emit("connection", socket);
    });
    return Promise.resolve(this.ports[door]);
  }

  open(): void {
    this.tell({ minis3: "ready" });
    let last: EventLoopUtilization = performance.eventLoopUtilization();
    this.reports = setInterval(() => {
      const now = performance.eventLoopUtilization();
      this.tell({ minis3: "load", elu: performance.eventLoopUtilization(now, last).utilization, writable: this.writable() });
      last = now;
    }, REPORT_MS);
    this.reports.unref();
    this.log.info("serving the group's connections");
  }

  async close(): Promise<void> {
    clearInterval(this.reports);
    this.tell({ minis3: "closing" });
    if (!this.taken.size) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearInterval(poll);
        clearTimeout(cut);
        resolve();
      };
      const poll = setInterval(() => {
        for (const s of this.httpServers) s.closeIdleConnections();
        if (!this.taken.size) done();
      }, IDLE_POLL_MS);
      const cut = setTimeout(() => {
        for (const socket of this.taken) socket.destroy();
        done();
      }, this.drainMs);
    });
  }

  private tell(m: WorkerStateMessage | WorkerLoadMessage): void {
    // The primary may be gone already (the worker then stops too): nothing to tell.
    if (process.connected) process.send?.(m);
  }
}
