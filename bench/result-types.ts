import type { BenchArgs } from "./args";
import type { LargeResult } from "./large";
import type { LifecycleResult } from "./lifecycle";
import type { MixedResult } from "./mixed";
import type { TiersResult } from "./tiers";
import type { TransitionsResult } from "./transitions";

// The shape of a run's results: what main.ts fills, report.ts prints and bench/results/ keeps.

export interface CpuFigures {
  /** CPU seconds per process during the phase (MiniS3 services, mariadbd, redis-server, the bench). */
  seconds: Record<string, number>;
  totalSeconds: number;
}

export type MixedPhaseResult = MixedResult & { cpu: CpuFigures; cpuMicrosPerOp: number | null; leftoverKeysDeleted?: number };

export interface BenchResults {
  startedAt: string;
  finishedAt?: string;
  target: { url: string; ownCluster: boolean };
  settings: Omit<BenchArgs, "outDir" | "url" | "cpuProfDir">;
  machine: { cpus: number; cpuModel: string; memoryBytes: number; node: string };
  mixed?: MixedPhaseResult;
  /** The same mixed load through the S3 port, SigV4-signed. */
  mixedS3?: MixedPhaseResult;
  large?: LargeResult & { cpu: CpuFigures };
  huge?: LargeResult & { cpu: CpuFigures };
  tiers?: TiersResult & { cpu: CpuFigures };
  transitions?: TransitionsResult & { cpu: CpuFigures };
  lifecycle?: LifecycleResult;
  errors: string[];
}
