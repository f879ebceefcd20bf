import type { CompareResults, LargePhaseResult, LargeRatios, MixedPhaseResult, MixedRatios } from "./result-types";
import type { BenchResults } from "./result-types";
import { round } from "./stats";

// `--compare`'s ratios: each MiniS3 row (facade and S3) divided by the peer's row of the same
// workload, measured in the same sitting. Above 1 is better for ops/s and MB/s, below 1 for p99 and CPU.

const ratio = (ours: number | null | undefined, theirs: number | null | undefined): number | null =>
  ours == null || theirs == null || theirs === 0 ? null : round(ours / theirs, 3);

export function mixedRatios(vs: string, ours: MixedPhaseResult, peer: MixedPhaseResult): MixedRatios {
  return {
    vs,
    opsPerSec: ratio(ours.total.opsPerSec, peer.total.opsPerSec),
    p99Ms: ratio(ours.total.p99Ms, peer.total.p99Ms),
    serverCpuMicrosPerOp: ratio(ours.serverCpuMicrosPerOp, peer.serverCpuMicrosPerOp),
  };
}

export function largeRatios(vs: string, ours: LargePhaseResult, peer: LargePhaseResult): LargeRatios {
  return {
    vs,
    uploadMBps: ratio(ours.upload.mbPerSec, peer.upload.mbPerSec),
    retrieveMBps: ratio(ours.retrieve.mbPerSec, peer.retrieve.mbPerSec),
    serverCpuMsPerMiB: ratio(ours.serverCpuMsPerMiB, peer.serverCpuMsPerMiB),
  };
}

/** MiniS3 phase name → its result, and the peer's row of the same workload. */
const ROWS = [
  { phase: "mixed", ours: "mixed", peer: "mixed" },
  { phase: "mixed-s3", ours: "mixedS3", peer: "mixed" },
  { phase: "overwrite", ours: "overwrite", peer: "overwrite" },
  { phase: "overwrite-s3", ours: "overwriteS3", peer: "overwrite" },
  { phase: "large", ours: "large", peer: "large" },
  { phase: "large-s3", ours: "largeS3", peer: "large" },
  { phase: "large-parallel", ours: "largeParallel", peer: "largeParallel" },
  { phase: "large-s3-parallel", ours: "largeS3Parallel", peer: "largeParallel" },
  { phase: "large-s3-sdk", ours: "largeS3Sdk", peer: "large" },
  { phase: "large-s3-multipart", ours: "largeS3Multipart", peer: "largeMultipart" },
  { phase: "large-overwrite", ours: "largeOverwrite", peer: "largeOverwrite" },
  { phase: "large-burst", ours: "largeBurst", peer: "largeBurst" },
] as const;

/** Fills `compare.ratios` for every row both systems ran. */
export function computeRatios(r: BenchResults, compare: CompareResults): void {
  for (const row of ROWS) {
    const ours = r[row.ours];
    const peer = compare[row.peer];
    if (!ours || !peer) continue;
    const vs = `${compare.peer} ${row.peer}`;
    compare.ratios[row.phase] =
      "total" in ours ? mixedRatios(vs, ours, peer as MixedPhaseResult) : largeRatios(vs, ours, peer as LargePhaseResult);
  }
}
