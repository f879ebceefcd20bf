import { open, unlink } from "node:fs/promises";
import { join } from "node:path";

/** The FileHandle methods tests spy on. */
export interface FileHandleMethods {
  datasync(): Promise<void>;
  write(this: { fd: number }, b: Buffer, o: number, l: number, p: number): Promise<unknown>;
}

/** FileHandle.prototype, to spy on its methods (node:fs/promises exports no FileHandle class). */
export async function fileHandleProto(dir: string): Promise<FileHandleMethods> {
  const probe = await open(join(dir, "probe"), "w");
  const proto = Object.getPrototypeOf(probe) as FileHandleMethods;
  await probe.close();
  await unlink(join(dir, "probe"));
  return proto;
}
