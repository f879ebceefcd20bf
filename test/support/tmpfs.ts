import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// A small disk of its own for one process's data (a tmpfs mount), to fill it for real: ENOSPC from
// the kernel, not a simulated one. Needs root (CI runs as root); tests skip without it.

/** Why a tmpfs cannot be mounted here, or undefined when it can. */
export function tmpfsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "not root";
  const probe = mkdtempSync(join(tmpdir(), "minis3-tmpfs-probe-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { stdio: "pipe" });
    execFileSync("umount", [probe], { stdio: "pipe" });
    return undefined;
  } catch (e) {
    return `mount -t tmpfs failed: ${(e as Error).message.split("\n")[0]}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/** Mounts a tmpfs of `bytes`; returns its path and how to unmount it. */
export function mountTmpfs(bytes: number): { path: string; freeBytes(): number; unmount(): void } {
  const path = mkdtempSync(join(tmpdir(), "minis3-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", path], { stdio: "pipe" });
  return {
    path,
    freeBytes: () => Number(execFileSync("df", ["--output=avail", "-B1", path], { encoding: "utf8" }).trim().split("\n")[1]),
    unmount: () => {
      execFileSync("umount", ["-l", path], { stdio: "pipe" });
      rmSync(path, { recursive: true, force: true });
    },
  };
}
