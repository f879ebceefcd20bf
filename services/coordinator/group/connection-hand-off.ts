import type { Worker } from "node:cluster";
import net from "node:net";
import type { Logger } from "../../common/logger";
import { ConnectionPlacement } from "./connection-placement";
import { DOORS, type ConnectionMessage, type Door, type DoorPorts } from "./messages";

// The group's listening sockets, kept by the primary for as long as it runs. Node's cluster module
// closes a shared listening socket when the last worker using it leaves
// (lib/internal/cluster/round_robin_handle.js, remove()): with a worker SIGKILLed every 5 s, the
// other was sometimes still starting (2.5-4.7 s from fork to ready, measured on an idle machine), and
// then every connect was refused: 14,625 of 14,694 errors in a 45 s run (90 % of all requests). So
// the primary listens itself and hands each new connection to a ready worker (a descriptor pass, as
// the cluster module does; the bytes then flow between the client and that worker alone): the first
// with room, not each in turn (connection-placement.ts says why).
// While no worker is ready, new connections are held unread and handed over once one is: a client
// waits for a restart rather than being refused.

const TALLY_MS = 10_000;

export interface HandOffOptions {
  host: string;
  ports: DoorPorts;
  /** Connections held while no worker is ready; beyond this, new ones are closed at once. */
  maxHeld?: number;
  /** A connection held longer than this is closed: no worker came in time. */
  maxHoldMs?: number;
}

interface Held {
  door: Door;
  socket: net.Socket;
  since: number;
}

export class ConnectionHandOff {
  private readonly servers: net.Server[] = [];
  /** Workers that serve every door, with their load. */
  private readonly ready: ConnectionPlacement<Worker>;
  private held: Held[] = [];
  private sweep?: NodeJS.Timeout;
  private readonly tally: NodeJS.Timeout;
  private closed = false;
  private readonly maxHeld: number;
  private readonly maxHoldMs: number;

  constructor(
    private readonly log: Logger,
    private readonly opts: HandOffOptions,
  ) {
    this.maxHeld = opts.maxHeld ?? 4096;
    this.maxHoldMs = opts.maxHoldMs ?? 30_000;
    this.ready = new ConnectionPlacement();
    // Where new connections went, at most once a TALLY_MS and only when some came: what an operator
    // (and the bench's write-up) needs to see the placement at work.
    this.tally = setInterval(() => this.logTally(), TALLY_MS);
    this.tally.unref();
  }

  /** Listens on every door; returns the ports bound (a port 0 becomes a real one). */
  async listen(): Promise<DoorPorts> {
    const ports = { ...this.opts.ports };
    for (const door of DOORS) {
      // Unread until a worker has it: the worker's server reads the first byte. noDelay as the
      // workers' HTTP servers would set it on a connection they accepted themselves.
      const server = net.createServer({ pauseOnConnect: true, noDelay: door !== "grpc" }, (socket) => this.route(door, socket));
      this.servers.push(server);
      ports[door] = await new Promise<number>((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.opts.ports[door], this.opts.host, () => {
          server.off("error", reject);
          resolve((server.address() as net.AddressInfo).port);
        });
      });
    }
    return ports;
  }

  /** The worker serves every door: it takes connections from now on, starting with those held. */
  workerReady(worker: Worker): void {
    if (this.closed || this.ready.has(worker)) return;
    this.ready.add(worker);
    const held = this.held;
    this.held = [];
    this.stopSweep();
    if (held.length) {
      const waited = Date.now() - Math.min(...held.map((h) => h.since));
      this.log.info({ connections: held.length, heldMs: waited }, "a coordinator is ready: handing it the connections held");
    }
    for (const h of held) this.route(h.door, h.socket, h.since);
  }

  /** The worker stops or is gone: no more connections for it. */
  workerGone(worker: Worker): void {
    this.ready.remove(worker);
  }

  /** The worker's event loop was busy `elu` (0-1) of the time since its last report. */
  workerLoad(worker: Worker, elu: number, writable: boolean): void {
    this.ready.report(worker, elu, writable);
  }

  /** Stops listening and closes the connections held (a stop: no worker will take them). */
  close(): void {
    this.closed = true;
    this.ready.removeAll();
    clearInterval(this.tally);
    for (const s of this.servers) s.close();
    for (const h of this.held) h.socket.destroy();
    this.held = [];
    this.stopSweep();
  }

  private route(door: Door, socket: net.Socket, since = Date.now()): void {
    if (this.closed || socket.destroyed) {
      socket.destroy();
      return;
    }
    const worker = this.ready.pick();
    if (!worker) return this.hold({ door, socket, since });
    const message: ConnectionMessage = { minis3: "connection", door };
    worker.send(message, socket, (err: Error | null) => {
      if (!err) return; // the worker has it; Node closes this process's copy once it says so
      // The channel closed before the socket went: the worker is gone, the socket still ours.
      this.workerGone(worker);
      this.route(door, socket, since);
    });
  }

  private logTally(): void {
    const tally = this.ready.handedSince();
    if (!tally.some((t) => t.connections)) return;
    const workers = tally.map((t) => ({ pid: t.worker.process.pid, connections: t.connections, elu: Math.round(t.elu * 100) / 100 }));
    this.log.info({ workers, windowMs: TALLY_MS }, "new connections handed to the coordinators");
  }

  private hold(h: Held): void {
    if (this.held.length >= this.maxHeld) {
      h.socket.destroy();
      return;
    }
    if (!this.held.length) this.log.warn({ maxHoldMs: this.maxHoldMs }, "no coordinator ready: holding new connections until one is");
    this.held.push(h);
    this.sweep ??= setInterval(() => this.dropExpired(), 1_000);
  }

  private dropExpired(): void {
    const limit = Date.now() - this.maxHoldMs;
    const expired = this.held.filter((h) => h.since < limit);
    if (!expired.length) return;
    this.held = this.held.filter((h) => h.since >= limit);
    for (const h of expired) h.socket.destroy();
    this.log.warn({ connections: expired.length, maxHoldMs: this.maxHoldMs }, "no coordinator ready in time: closed connections held");
    if (!this.held.length) this.stopSweep();
  }

  private stopSweep(): void {
    clearInterval(this.sweep);
    this.sweep = undefined;
  }
}
