import { ErrorCode, hasCode, MiniS3Error } from "../../common/errors";
import type { Logger } from "../../common/logger";
import type { NodeKind, NodeRecord } from "../../membership/node-record";
import type { NodeDirectory } from "./node-directory";
import { NodeClient, type NodeClientOptions } from "../../rpc/client/node-client";

/**
 * One NodeClient (one channel, one multiplexed Exchange stream) per node, kept in step with the
 * node directory: a node that changes address gets a new client, a removed one is closed.
 */
export class NodePool {
  private readonly clients = new Map<string, NodeClient>();

  constructor(
    private readonly directory: NodeDirectory,
    private readonly log: Logger,
    /** Deadlines of every client (tests shorten them). */
    private readonly clientOptions: NodeClientOptions = {},
  ) {
    directory.on("change", (records: NodeRecord[]) => this.sync(records));
    this.sync(directory.all());
  }

  /** The client for a node, whether or not it is live (the call itself will tell). */
  client(id: string): NodeClient {
    const c = this.clients.get(id);
    if (!c) throw new MiniS3Error(ErrorCode.NodeUnavailable, `node ${id} is not registered`);
    return c;
  }

  isLive(id: string): boolean {
    return this.directory.isLive(id);
  }

  /**
   * A call to the node failed: the one place that decides whether to stop routing to it until it
   * heartbeats again. Only NodeUnavailable does (the transport could not reach it); an error the
   * node answered with (its MariaDB down, a bad checksum, not found) says it is up.
   */
  failed(id: string, e: unknown): void {
    if (hasCode(e, ErrorCode.NodeUnavailable)) this.directory.suspect(id);
  }

  /** A live node of a kind (the first by id), for the single backup and delete tiers. */
  liveOfKind(kind: NodeKind): NodeClient {
    const n = this.directory.ofKind(kind).find((r) => r.live);
    if (!n) throw new MiniS3Error(ErrorCode.NotEnoughNodes, `no live ${kind} node`);
    return this.client(n.id);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private sync(records: readonly NodeRecord[]): void {
    const seen = new Set<string>();
    for (const r of records) {
      seen.add(r.id);
      const c = this.clients.get(r.id);
      if (c && c.address === r.address) continue;
      c?.close();
      this.clients.set(r.id, new NodeClient(r.id, r.address, this.clientOptions));
      if (c) this.log.info({ node: r.id, address: r.address }, "node moved; reconnecting");
    }
    for (const [id, c] of this.clients) {
      if (!seen.has(id)) {
        c.close();
        this.clients.delete(id);
      }
    }
  }
}
