import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Keys } from "./s3-client";

// The peer that `--compare` measures beside MiniS3: s3rver (the devDependency), one process as its
// users run it, started as a child so its CPU is read from /proc like every MiniS3 process's. Its
// own temp directory, a free port, silent. It checks only that a SigV4 request names its one key
// pair (S3RVER/S3RVER), so the bench's signed requests go through unchanged.

export interface PeerServer {
  /** "s3rver 3.7.1". */
  name: string;
  url: string;
  pid: number;
  keys: S3Keys;
  stop(): Promise<void>;
}

const STARTUP_MS = 60_000;

export async function startS3rver(): Promise<PeerServer> {
  let bin: string;
  let version: string;
  try {
    bin = require.resolve("s3rver/bin/s3rver.js");
    version = (JSON.parse(await readFile(require.resolve("s3rver/package.json"), "utf8")) as { version: string }).version;
  } catch {
    throw new Error("--compare needs s3rver, a devDependency: run npm install (not --omit=dev) first");
  }
  const dir = await mkdtemp(join(tmpdir(), "minis3-bench-s3rver-"));
  const child = spawn(process.execPath, [bin, "-d", dir, "-a", "127.0.0.1", "-p", "0", "--silent", "--no-vhost-buckets"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stop = () => stopChild(child).finally(() => rm(dir, { recursive: true, force: true }));
  try {
    const port = await listeningPort(child);
    return {
      name: `s3rver ${version}`,
      url: `http://127.0.0.1:${port}`,
      pid: child.pid!,
      keys: { accessKey: "S3RVER", secretKey: "S3RVER" },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The port from s3rver's one line on stdout ("S3rver listening on 127.0.0.1:PORT"). */
function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => fail(new Error(`s3rver did not start within ${STARTUP_MS / 1000} s: ${err.slice(-500)}`)), STARTUP_MS);
    const fail = (e: Error) => {
      clearTimeout(timer);
      reject(e);
    };
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on [^\s:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.resume();
        resolve(Number(m[1]));
      }
    });
    child.once("error", fail);
    child.once("exit", (code, signal) => fail(new Error(`s3rver exited (${signal ?? code}) before listening: ${err.slice(-500)}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}
