import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { NodeKind } from "./node-record";

/** A node's id: MINIS3_NODE_ID, else the one kept in <dataDir>/node-id (made on first start). */
export async function resolveNodeId(configured: string, dataDir: string, kind: NodeKind): Promise<string> {
  if (configured) return configured;
  const file = join(dataDir, "node-id");
  try {
    return (await readFile(file, "utf8")).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const id = `${kind}-${randomBytes(4).toString("hex")}`;
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, id + "\n", { flag: "wx" });
  return id;
}
