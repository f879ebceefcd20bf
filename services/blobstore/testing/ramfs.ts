// A directory on ramfs: a real filesystem with no O_DIRECT (open with the flag fails with EINVAL),
// for the file store's fallback to the page cache. Mounting needs root (CAP_SYS_ADMIN).
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Why ramfs cannot be mounted here (then the case skips), or undefined when it can. */
export function ramfsUnavailable(): string | undefined {
  if (process.platform !== "linux") return `ramfs needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "mounting ramfs needs root";
  return undefined;
}

/** A fresh ramfs mount; remove() unmounts it (its contents go with it) and deletes the mount point. */
export async function ramfsDir(label: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `minis3-${label}-`));
  try {
    execFileSync("mount", ["-t", "ramfs", "ramfs", path], { stdio: "pipe" });
  } catch (e) {
    await rm(path, { recursive: true, force: true });
    throw new Error(`mount -t ramfs failed: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || String(e)}`);
  }
  return {
    path,
    async remove() {
      execFileSync("umount", [path], { stdio: "pipe" });
      await rm(path, { recursive: true, force: true });
    },
  };
}
