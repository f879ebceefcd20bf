import { SETTINGS } from "../../services/common/config";

// `npm start` takes no arguments: every setting is an environment variable. It used to ignore its
// arguments, so `npm start -- --help` started a whole cluster on the default ports.

/** What the launcher's arguments ask for: its usage, or a run. Anything else is refused. */
export function launcherCommand(args: string[]): { run: true } | { run: false; status: number; text: string } {
  if (!args.length) return { run: true };
  if (args.length === 1 && (args[0] === "--help" || args[0] === "-h")) return { run: false, status: 0, text: usage() };
  return {
    run: false,
    status: 2,
    text: `unexpected argument ${JSON.stringify(args[0])}: settings are environment variables (npm start -- --help lists them)`,
  };
}

function usage(): string {
  const rows = Object.values(SETTINGS).map((s) => `  ${s.env}=${s.default === "" ? '""' : s.default}\n      ${s.doc}`);
  return [
    "usage: [MINIS3_…=value …] npm start",
    "Runs a whole MiniS3 cluster on this machine in the foreground, one process per service; Ctrl-C stops it.",
    "Settings (environment variables, with their defaults):",
    ...rows,
    "",
  ].join("\n");
}
