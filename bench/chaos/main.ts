import { parseChaosArgs, CHAOS_USAGE } from "./args";
import { UsageError } from "../args";
import { CommandFaults } from "./command-faults";
import { failures, formatReport, runChaos } from "./run";

// `npm run chaos -- --target URL [--kill-cmd CMD]`: the chaos suite's checked workload against any
// running MiniS3, with the user's own command injecting faults.

const log = (m: string) => process.stderr.write(`chaos: ${m}\n`);

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** What a run exits with; `minis3 chaos` (cli/) maps them onto its own table. */
export interface ChaosExits {
  ok: number;
  /** Anything lost, wrong, resurrected or stale, or objects not back at R copies. */
  failed: number;
  usage: number;
  /** A target's /healthz does not answer 200. */
  unavailable: number;
}

const NPM_RUN_CHAOS_EXITS: ChaosExits = { ok: 0, failed: 1, usage: 2, unavailable: 2 };

/**
 * `npm run chaos` with `argv`; resolves with the exit code. `jsonOnly`: with --json, stdout carries
 * only the JSON report (the summary goes to stderr), as `minis3 --json` promises scripts.
 */
export async function chaosMain(
  argv: string[],
  exits: ChaosExits = NPM_RUN_CHAOS_EXITS,
  opts: { jsonOnly?: boolean } = {},
): Promise<number> {
  let args;
  try {
    args = parseChaosArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError) && !(e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) throw e;
    process.stderr.write(`${(e as Error).message}\n\n${CHAOS_USAGE}\n`);
    return exits.usage;
  }
  if (args === "help") {
    process.stdout.write(`${CHAOS_USAGE}\n`);
    return exits.ok;
  }
  for (const t of args.targets) {
    if (!(await healthy(t))) {
      log(`${t}/healthz does not answer 200: start the cluster first`);
      return exits.unavailable;
    }
  }
  let interrupted = false;
  process.on("SIGINT", () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log("interrupted: stopping the workload and checking what it did (again to quit at once)");
  });
  const report = await runChaos({
    targets: args.targets,
    durationMs: args.durationMs,
    concurrency: args.concurrency,
    replicas: args.replicas,
    repairTimeoutMs: args.repairTimeoutMs,
    requestTimeoutMs: args.requestTimeoutMs,
    workload: { mix: args.mix, retries: args.retries },
    faults: args.killCmd ? new CommandFaults(args.killCmd, args.killEveryMs, log) : undefined,
    log,
    stopped: () => interrupted,
  });
  (args.json && opts.jsonOnly ? process.stderr : process.stdout).write(`${formatReport(report)}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return failures(report).length ? exits.failed : exits.ok;
}

if (require.main === module) {
  chaosMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`chaos: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(3);
    },
  );
}
