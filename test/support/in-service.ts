import { execFileSync } from "node:child_process";
import { RUNTIME_ARGS } from "../../deploy/launcher/plan";
import { compiled } from "./compiled";

// What frees memory at once (ArrayBuffer.prototype.transfer) is behind a flag in Node 20, which jest
// runs without: tests of it run a script in a child Node given the launcher's flags, on the compiled
// modules (npm test builds first).

/** A `require(...)` of a compiled module, for a script given to inService. */
export const requireCompiled = (path: string): string => `require(${JSON.stringify(compiled(path))})`;

/** Runs `script` in a Node with the flags the launcher gives a service; what it printed, parsed as JSON. */
export function inService(script: string): Record<string, unknown> {
  const out = execFileSync(process.execPath, [...RUNTIME_ARGS, "-e", script], { encoding: "utf8", timeout: 30_000 });
  return JSON.parse(out) as Record<string, unknown>;
}
