import { mkdir, mkdtemp, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SERVICES = ["coordinator", "storage-node", "backup-node", "delete-node"];

/** A fake repository root whose dist/services/<service>/main.js are all the stub service. */
export async function makeStubRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "minis3-stub-root-"));
  const stub = await readFile(join(__dirname, "stub-service.js"), "utf8");
  for (const s of SERVICES) {
    const dir = join(root, "dist", "services", s);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "main.js"), stub);
  }
  return root;
}
