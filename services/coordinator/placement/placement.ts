import type { NodeDirectory } from "../cluster/node-directory";
import { HashRing } from "./hash-ring";

/** The key a version is placed by: bucket and key (so versions of a key land together). */
export function placementKey(bucket: string, key: string): string {
  return `${bucket}/${key}`;
}

/**
 * Chooses storage nodes for objects: the ring holds every registered storage node; a key's replicas
 * go to the first `replicas` live nodes of its preference list, so a down node's share moves to the
 * next nodes on the ring and comes back when it does.
 */
export class Placement {
  private ring = new HashRing([]);

  constructor(
    private readonly directory: NodeDirectory,
    readonly replicas: number,
  ) {
    this.rebuild();
    directory.on("change", () => this.rebuild());
  }

  rebuild(): void {
    // A node being removed (draining) leaves the ring at once: new copies go to the nodes that stay.
    const ids = this.directory.placeable("storage").map((n) => n.id);
    if (ids.join(",") !== this.ring.nodes.join(",")) this.ring = new HashRing(ids);
  }

  /** Live nodes for a new write, best first (may be fewer than `replicas`). */
  targets(bucket: string, key: string, count = this.replicas): string[] {
    return this.ring
      .preferenceList(placementKey(bucket, key))
      .filter((id) => this.directory.isLive(id))
      .slice(0, count);
  }

  /**
   * The rest of the key's preference list past `chosen`, live or not, in order: where a write turns
   * when a chosen node fails (a node down now may be back by then).
   */
  spares(bucket: string, key: string, chosen: readonly string[]): string[] {
    return this.ring.preferenceList(placementKey(bucket, key)).filter((id) => !chosen.includes(id));
  }

  /**
   * Where the key belongs whatever is live: the first `replicas` nodes of its preference list. A
   * copy elsewhere is away from home (a hint, or a key a new node took over).
   */
  home(bucket: string, key: string): string[] {
    return this.homes(bucket, key).home;
  }

  /** `home`, and the first `replicas` live nodes (where a write would go now), from one ring lookup. */
  homes(bucket: string, key: string): { home: string[]; live: string[] } {
    const list = this.ring.preferenceList(placementKey(bucket, key));
    return {
      home: list.slice(0, this.replicas),
      live: list.filter((id) => this.directory.isLive(id)).slice(0, this.replicas),
    };
  }

  liveStorageNodes(): number {
    return this.directory.placeable("storage").filter((n) => n.live).length;
  }
}
