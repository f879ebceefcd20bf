import { parseArgs } from "node:util";
import { parseDuration } from "../../services/common/units";
import { int, parseHttpUrl, parseMix, UsageError, wrap } from "../args";
import type { Mix } from "../args";

// `npm run chaos`'s settings. Unlike the bench, a target may be anywhere: the point is to check a
// user's own deployment.

export interface ChaosArgs {
  targets: string[];
  killCmd: string | undefined;
  killEveryMs: number;
  durationMs: number;
  concurrency: number;
  replicas: number;
  repairTimeoutMs: number;
  requestTimeoutMs: number;
  mix: Mix;
  retries: number;
  json: boolean;
}

export const CHAOS_USAGE = `usage: npm run chaos -- --target URL [options]
  --target URL         a coordinator's HTTP address; repeat it (or give a comma list) to spread the
                       load over several front doors in turn
  --kill-cmd CMD       a shell command that injects a fault (kill a process, cut a link…), run with
                       sh -c every --kill-every while the workload runs, one at a time; CHAOS_ROUND
                       (1, 2, …) is set for it. It, or a supervisor, must bring back what it breaks
  --kill-every TIME    how often (default 5s)
  --duration TIME      how long the workload runs (default 60s)
  --concurrency N      requests in flight (default 16)
  --replicas N         copies every hot object must list at the end: the cluster's MINIS3_REPLICAS
                       (default 2)
  --repair-timeout T   how long to wait, after the faults stop, for every key to read back and every
                       object to be back at R copies (default 5m)
  --request-timeout T  an answer slower than this counts as a failure of unknown outcome (default 30s)
  --mix U:R:D          upload:retrieve:delete weights (default 40:45:15)
  --retries N          tries again after a connection reset, up to N times, as the AWS SDKs do
                       (default 2); the report also gives the errors without them. 0: never
  --json               print the full report as JSON after the summary
Exits 0 when nothing was lost, wrong, resurrected or stale and every object is back at R copies;
1 otherwise; 2 on a usage error.`;

const FLAGS = {
  target: { type: "string", multiple: true },
  "kill-cmd": { type: "string" },
  "kill-every": { type: "string" },
  duration: { type: "string" },
  concurrency: { type: "string" },
  replicas: { type: "string" },
  "repair-timeout": { type: "string" },
  "request-timeout": { type: "string" },
  mix: { type: "string" },
  retries: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean" },
} as const;

const duration = (name: string, text: string | undefined, fallback: string) => wrap(name, () => parseDuration(text ?? fallback));

export function parseChaosArgs(argv: string[]): ChaosArgs | "help" {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) return "help";
  const targets = (values.target ?? [])
    .flatMap((t) => t.split(","))
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => parseHttpUrl("target", t).origin);
  if (!targets.length) throw new UsageError("--target URL is required (a coordinator's HTTP address, e.g. http://127.0.0.1:8080)");
  const durationMs = duration("duration", values.duration, "60s");
  if (durationMs < 1000) throw new UsageError("--duration must be at least 1s");
  const killEveryMs = duration("kill-every", values["kill-every"], "5s");
  if (killEveryMs < 100) throw new UsageError("--kill-every must be at least 100ms");
  return {
    targets: [...new Set(targets)],
    killCmd: values["kill-cmd"] || undefined,
    killEveryMs,
    durationMs,
    concurrency: int("concurrency", values.concurrency ?? "16", 1, 1024),
    replicas: int("replicas", values.replicas ?? "2", 1, 16),
    repairTimeoutMs: duration("repair-timeout", values["repair-timeout"], "5m"),
    requestTimeoutMs: duration("request-timeout", values["request-timeout"], "30s"),
    mix: parseMix(values.mix ?? "40:45:15"),
    retries: int("retries", values.retries ?? "2", 0, 10),
    json: values.json ?? false,
  };
}
