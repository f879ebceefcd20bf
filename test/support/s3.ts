import { execFile } from "node:child_process";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import type { TestCluster } from "../../deploy/launcher/cluster";

/** An AWS SDK S3 client for a test cluster's S3 endpoint (path style, the cluster's key pair). */
export function s3Client(
  cluster: Pick<TestCluster, "s3Url" | "accessKey" | "secretKey">,
  overrides: Partial<S3ClientConfig> = {},
): S3Client {
  return new S3Client({
    endpoint: cluster.s3Url,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: cluster.accessKey, secretAccessKey: cluster.secretKey },
    maxAttempts: 1, // a test wants the first answer, not a retried one
    ...overrides,
  });
}

/** The S3 error code of a failed SDK call (its `name`), or "no error". */
export async function s3ErrorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "no error";
  } catch (e) {
    return (e as { name?: string }).name ?? String(e);
  }
}

/** The HTTP status of a failed SDK call. */
export async function s3ErrorStatus(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  }
}

/**
 * Runs a command-line S3 client (aws, rclone) with `env` (a temp HOME and config: nothing of the
 * user's own leaks in); rejects with its stderr on a non-zero exit. Undefined when it is not installed.
 */
export async function cliRunner(
  command: string,
  env: Record<string, string>,
): Promise<((...args: string[]) => Promise<{ stdout: string; stderr: string }>) | undefined> {
  const run = (args: string[]) =>
    new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile(command, args, { env: { PATH: process.env.PATH ?? "", ...env }, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${command} ${args.join(" ")}: ${err.message}\n${stderr}`));
        else resolve({ stdout, stderr });
      });
    });
  try {
    await run(["--version"]);
  } catch {
    return undefined;
  }
  return (...args: string[]) => run(args);
}

/**
 * Runs one SDK call and returns its output with the raw HTTP response headers (lower-case names),
 * which the SDK's typed output leaves out when S3 has no such header (x-minis3-*, x-request-id).
 */
export async function responseHeaders<T>(
  client: S3Client,
  send: () => Promise<T>,
): Promise<{ output: T; headers: Record<string, string> }> {
  let headers: Record<string, string> = {};
  const name = `capture-headers-${Math.random()}`;
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      headers = { ...(result.response as { headers: Record<string, string> }).headers };
      return result;
    },
    { step: "deserialize", name },
  );
  try {
    return { output: await send(), headers };
  } finally {
    client.middlewareStack.remove(name);
  }
}
