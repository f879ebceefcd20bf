import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../deploy/launcher/paths";

/** The compiled counterpart under dist/ of a source file (e.g. "services/coordinator/main.js"). */
export function compiled(path: string): string {
  const file = join(repoRoot(), "dist", path);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first (npm test does)`);
  return file;
}
