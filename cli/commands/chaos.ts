// `minis3 chaos`: the checked chaos workload of `npm run chaos` (bench/chaos/), run as it is: same
// options, same report. What differs: the target defaults to the CLI's endpoint, the workload signs
// with the CLI's key pair (profile, environment or ./data/credentials.json), the exit codes are the
// CLI's, and --json leaves stdout to the JSON report alone.
import { parseChaosArgs } from "../../bench/chaos/args";
import { chaosMain } from "../../bench/chaos/main";
import { rememberKeyPair } from "../../deploy/launcher/client-credentials";
import { EXIT } from "../exit-codes";
import type { Target } from "../profile";

export async function chaos(argv: string[], target: Target | undefined): Promise<number> {
  const hasTarget = argv.some((a) => a === "--target" || a.startsWith("--target="));
  const args = !hasTarget && target ? ["--target", target.endpoint, ...argv] : argv;
  if (target) {
    let targets: string[] = [target.endpoint];
    try {
      const parsed = parseChaosArgs(args);
      if (parsed !== "help") targets = parsed.targets;
    } catch {
      // chaosMain reports it
    }
    rememberKeyPair(targets, target.keys);
  }
  const exits = { ok: EXIT.ok, failed: EXIT.checkFailed, usage: EXIT.usage, unavailable: EXIT.unavailable };
  return chaosMain(args, exits, { jsonOnly: true });
}
