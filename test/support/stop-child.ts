import type { ChildProcess } from "node:child_process";

/** A clean shutdown of a private server (SIGTERM), waiting until the process has gone. */
export async function stopChild(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.kill("SIGTERM");
  await gone;
}
