import { createHash, hash } from "node:crypto";
import ConsistentHash from "consistent-hash";

const RANGE = 1_000_003;
export const POINTS_PER_NODE = 160;

/** md5-derived ring points for a node id: the same id gives the same points in every process. */
export function pointsFor(nodeId: string, count = POINTS_PER_NODE): number[] {
  const points: number[] = [];
  for (let i = 0; points.length < count; i++) {
    const d = createHash("md5").update(`${nodeId}#${i}`).digest();
    // four points per digest, each 32 bits mod the ring range
    for (let j = 0; j < 16 && points.length < count; j += 4) points.push(d.readUInt32BE(j) % RANGE);
  }
  return points;
}

/**
 * A deterministic consistent-hash ring over node ids. consistent-hash places points at random by
 * default, so two coordinators would disagree on most keys (STACK.md §5); here every node's points
 * come from its id, and nodes are added in id order, so any process builds the same ring.
 */
export class HashRing {
  private readonly ring = new ConsistentHash({ range: RANGE });
  readonly nodes: readonly string[];

  constructor(nodeIds: Iterable<string>) {
    this.nodes = [...new Set(nodeIds)].sort();
    for (const id of this.nodes) this.ring.add(id, POINTS_PER_NODE, pointsFor(id));
  }

  /**
   * Every node in ring order from the key's position: the key's preference list. The package
   * hashes with a weak 24-bit hash that clusters similar keys, so the key is md5-ed first.
   */
  preferenceList(placementKey: string): string[] {
    if (this.nodes.length === 0) return [];
    // crypto.hash's one-shot (the same md5 of the key's UTF-8): no Hash object built per lookup,
    // which every write and most reads make (micro figures in bench/README.md, "coordhot").
    return this.ring.get(hash("md5", placementKey, "hex"), this.nodes.length);
  }
}
