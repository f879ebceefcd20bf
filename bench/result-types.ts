import type { BenchArgs } from "./args";
import type { CompactionInRow } from "./compaction";
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
  /** All but the bench's own: the server side's CPU seconds (s3rver's alone for the peer). */
  serverSeconds: number;
}

export type MixedPhaseResult = MixedResult & {
  cpu: CpuFigures;
  /** Every process's CPU, the bench's included (the figure earlier results recorded). */
  cpuMicrosPerOp: number | null;
  /** The server side's CPU per operation: every MiniS3 process, MariaDB and Redis (or the peer). */
  serverCpuMicrosPerOp: number | null;
  cpuMicrosPerOpByProcess: Record<string, number>;
  /** After the run, the time until the lifecycle queues were empty (inside the CPU window). */
  drainMs: number;
  /** The nodes whose compaction freed or read segments during the row (bench/compaction.ts). */
  compaction?: Record<string, CompactionInRow>;
  leftoverKeysDeleted?: number;
};

export type LargePhaseResult = Omit<LargeResult, "stored"> & {
  cpu: CpuFigures;
  /** Server CPU milliseconds per MiB moved (up and down together). */
  serverCpuMsPerMiB: number | null;
  /** The nodes whose compaction freed or read segments during the row (bench/compaction.ts). */
  compaction?: Record<string, CompactionInRow>;
  /** The unmeasured passes before the measured ones (--large-warmup): their seconds, for the record. */
  warmup?: { ok: boolean; reason?: string; uploadSeconds: number[]; retrieveSeconds: number[] };
};

/** MiniS3's figure divided by the peer's, for one row (null when either is missing or zero). */
export interface MixedRatios {
  vs: string;
  opsPerSec: number | null;
  p99Ms: number | null;
  serverCpuMicrosPerOp: number | null;
}

export interface LargeRatios {
  vs: string;
  uploadMBps: number | null;
  retrieveMBps: number | null;
  serverCpuMsPerMiB: number | null;
}

/** `--compare`: the same S3 workloads against the peer, and the ratios MiniS3/peer per row. */
export interface CompareResults {
  peer: string;
  url: string;
  mixed?: MixedPhaseResult;
  overwrite?: MixedPhaseResult;
  large?: LargePhaseResult;
  largeParallel?: LargePhaseResult;
  /** `large` uploaded multipart, beside MiniS3's large-s3-multipart only. */
  largeMultipart?: LargePhaseResult;
  /** `large` uploaded over the same key every pass, beside MiniS3's large-overwrite only. */
  largeOverwrite?: LargePhaseResult;
  /** --large-burst objects at once, beside MiniS3's large-burst. */
  largeBurst?: LargePhaseResult;
  /** Keyed by MiniS3's phase name (mixed, mixed-s3, overwrite…). */
  ratios: Record<string, MixedRatios | LargeRatios>;
}

export interface BenchResults {
  startedAt: string;
  finishedAt?: string;
  target: { url: string; ownCluster: boolean };
  settings: Omit<BenchArgs, "outDir" | "url" | "cpuProfDir">;
  machine: { cpus: number; cpuModel: string; memoryBytes: number; node: string };
  /** Fresh keys through the facade. */
  mixed?: MixedPhaseResult;
  /** The same mixed load through the S3 port, SigV4-signed. */
  mixedS3?: MixedPhaseResult;
  /** A fixed key set (most uploads overwrite), through the facade and through S3. */
  overwrite?: MixedPhaseResult;
  overwriteS3?: MixedPhaseResult;
  large?: LargePhaseResult;
  largeParallel?: LargePhaseResult;
  largeS3?: LargePhaseResult;
  largeS3Parallel?: LargePhaseResult;
  /** large-s3 uploaded as the SDKs send a stream: aws-chunked, a CRC32 trailer. */
  largeS3Sdk?: LargePhaseResult;
  /** large-s3 uploaded as the stock tools send a big file: multipart, 8 MiB parts, 10 at once. */
  largeS3Multipart?: LargePhaseResult;
  /** large through the facade, every pass uploading over the same key (the replaced versions' trash moves counted). */
  largeOverwrite?: LargePhaseResult;
  /** --large-burst objects uploaded at once through the facade: more than a coordinator streams at a time. */
  largeBurst?: LargePhaseResult;
  huge?: LargePhaseResult;
  tiers?: TiersResult & { cpu: CpuFigures };
  transitions?: TransitionsResult & { cpu: CpuFigures };
  lifecycle?: LifecycleResult;
  compare?: CompareResults;
  errors: string[];
}

export type MixedRow = "mixed" | "mixedS3" | "overwrite" | "overwriteS3";
export type LargeRow = "large" | "largeParallel" | "largeS3" | "largeS3Parallel" | "largeS3Sdk" | "largeS3Multipart" | "largeOverwrite";
