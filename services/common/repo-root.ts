import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The repository root (the folder whose package.json is MiniS3's), found by walking up from `from`,
 * so it is right both from the TypeScript sources (under jest) and from dist/ (compiled), and in the
 * container image (which keeps package.json beside dist/).
 */
export function repoRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "minis3") return dir;
    if (dirname(dir) === dir) throw new Error(`no MiniS3 package.json above ${from}`);
  }
}
