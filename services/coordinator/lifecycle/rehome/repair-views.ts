import type { RehomeView } from "./rehomer";

/**
 * Repair, cluster-wide as of now (one scan of the catalogue): live hot versions short of R copies
 * once copies on lost nodes are not counted, the bytes their new copies take, and the time that
 * takes at MINIS3_REPAIR_RATE. `copiedBytesPerSecond` is what this coordinator copied over the last
 * 10 s (repair and rehome).
 */
export interface RepairStatusView {
  rateBytesPerSecond: number;
  copiedBytesPerSecond: number;
  lostNodes: string[];
  versionsLeft: number;
  bytesLeft: number;
  underReplicated: number;
  /** Seconds to full repair at the rate (null: unthrottled and nothing copied lately). */
  etaSeconds: number | null;
}

/**
 * Rehome (handoff and rebalance) as this coordinator's last pass over the catalogue saw it:
 * versions away from home (a copy off the first R nodes of the key's preference list) and under R
 * copies (null before the first pass), with the passes' details.
 */
export interface RehomeStatusView extends RehomeView {
  awayFromHome: number | null;
  underReplicated: number | null;
}
