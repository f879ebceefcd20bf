import { existsSync } from "node:fs";
import { ConfigError, SETTINGS } from "../../services/common/config";
import { dialableHost, hostPort } from "../../services/common/net-address";
import { type KeyPair, launcherCredentials } from "./credentials";
import { waitForHealthy } from "./health";
import { repoRoot } from "./paths";
import { planCluster, type ProcessSpec } from "./plan";
import { ephemeralPortRange, portsInRange } from "./ports";
import { readClusterShape } from "./shape";
import { Supervisor } from "./supervisor";
import { launcherCommand } from "./usage";

// `npm start`: runs a whole MiniS3 cluster on this machine in the foreground, one OS process per
// service, until Ctrl-C.

/** How long the cluster may take to answer /healthz 200 before the launcher gives up. */
const START_TIMEOUT_MS = 90_000;

function fail(message: string, status: number): never {
  process.stderr.write(`minis3 launcher: ${message}\n`);
  process.exit(status);
}

function endpoints(specs: ProcessSpec[], httpUrl: string, keyPair: KeyPair | undefined): string {
  const coordinator = specs.find((s) => s.kind === "coordinator")!;
  const nodes = specs.filter((s) => s.kind !== "coordinator");
  const width = Math.max(...nodes.map((n) => n.name.length));
  const s3Url = httpUrl.replace(/:\d+$/, `:${coordinator.env.MINIS3_S3_PORT ?? SETTINGS.s3Port.default}`);
  return [
    "MiniS3 is up:",
    `  HTTP  ${httpUrl}   (POST /upload?key=…, GET /retrieve?key=…, DELETE /delete?key=…, GET /status)`,
    `  gRPC  ${coordinator.address}`,
    `  S3    ${s3Url}   (AWS Signature V4: aws --endpoint-url …)`,
    ...nodes.map((n) => `  ${n.name.padEnd(width)}  ${n.address}  data ${n.env.MINIS3_DATA_DIR}`),
    ...metricsLines(specs, httpUrl),
    ...(keyPair ? howToSign(httpUrl, s3Url, keyPair) : ["Credentials: the users of MINIS3_KEYS_FILE."]),
    "Ctrl-C stops everything.",
    "",
  ].join("\n");
}

/** Where each process serves its Prometheus metrics (none when MINIS3_METRICS_BASE_PORT=0). */
function metricsLines(specs: ProcessSpec[], httpUrl: string): string[] {
  const serving = specs.filter((s) => (s.metricsPort ?? 0) > 0);
  if (!serving.length) return [];
  const width = Math.max(...serving.map((s) => s.name.length));
  return [
    "Metrics (Prometheus, GET /metrics):",
    ...serving.map((s) => `  ${s.name.padEnd(width)}  ${httpUrl.replace(/:\d+$/, `:${s.metricsPort}`)}/metrics`),
  ];
}

/** The key pair, and the lines that use it: every call but /healthz must be signed. */
function howToSign(httpUrl: string, s3Url: string, k: KeyPair): string[] {
  const user = `--aws-sigv4 "aws:amz:us-east-1:s3" --user "${k.accessKey}:${k.secretKey}"`;
  return [
    "Credentials (every call but /healthz is signed with them; kept in the data dir):",
    `  access key  ${k.accessKey}`,
    `  secret key  ${k.secretKey}`,
    "  curl:",
    `    curl ${user} -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --data-binary @file.txt "${httpUrl}/upload?key=file.txt"`,
    `    curl ${user} "${httpUrl}/retrieve?key=file.txt"`,
    "  aws cli:",
    `    aws configure set aws_access_key_id ${k.accessKey} --profile minis3`,
    `    aws configure set aws_secret_access_key ${k.secretKey} --profile minis3`,
    "    aws configure set s3.signature_version s3v4 --profile minis3   # aws cli v1: presigned URLs in SigV4",
    `    aws --profile minis3 --region us-east-1 --endpoint-url ${s3Url} s3 ls`,
    "  gRPC: metadata 'authorization: Bearer <token>', a token from `npm run token` (good for 15 minutes)",
  ];
}

async function main(): Promise<void> {
  process.stdout.on("error", () => undefined); // a closed pipe must not take the cluster down
  const command = launcherCommand(process.argv.slice(2));
  if (!command.run) {
    if (command.status) fail(command.text, command.status);
    process.stdout.write(command.text);
    process.exit(0);
  }
  let shape;
  try {
    shape = readClusterShape(process.env, repoRoot());
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message, 2);
    throw e;
  }
  const credentials = launcherCredentials(process.env, shape.dataDir);
  for (const note of credentials.notes) process.stderr.write(`[launcher] ${note}\n`);
  const specs = planCluster(shape, { ...process.env, ...credentials.env });
  const ephemeral = ephemeralPortRange();
  const crowded = portsInRange(
    specs.filter((s) => s.kind !== "coordinator").map((s) => s.port),
    ephemeral,
  );
  if (crowded.length) {
    process.stderr.write(
      `[launcher] node ports ${crowded.join(", ")} are in the kernel's ephemeral range: a restarting node can find its port taken by an outgoing connection (set MINIS3_NODE_BASE_PORT below ${ephemeral![0]})\n`,
    );
  }
  const missing = [...new Set(specs.map((s) => s.script))].filter((s) => !existsSync(s));
  if (missing.length) fail(`not built: ${missing.join(", ")} (run \`npm run build\`)`, 1);

  const httpUrl = `http://${hostPort(dialableHost(shape.host), shape.httpPort)}`;
  const supervisor = new Supervisor(specs);
  let fatal: string | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (status: number): Promise<void> => {
    stopping ??= (async () => {
      process.stderr.write("[launcher] stopping all processes…\n");
      await supervisor.stopAll();
      process.stderr.write("[launcher] stopped\n");
      process.exit(status);
    })();
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`[launcher] ${signal} again: killing everything now\n`);
      for (const name of supervisor.names()) void supervisor.stop(name, "SIGKILL");
      return;
    }
    void shutdown(0);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  supervisor.on("fatal", (name: string, reason: string) => {
    fatal = `${name} ${reason}`;
    process.stderr.write(`[launcher] ${fatal}: stopping the cluster\n`);
    void shutdown(1);
  });

  supervisor.startAll();
  try {
    await waitForHealthy(httpUrl, { timeoutMs: START_TIMEOUT_MS, giveUp: () => fatal ?? (stopping ? "stopping" : undefined) });
  } catch (e) {
    if (stopping) return;
    process.stderr.write(`[launcher] ${(e as Error).message}\n`);
    await shutdown(1);
    return;
  }
  process.stdout.write(endpoints(specs, httpUrl, credentials.keyPair));
}

main().catch((e) => fail((e as Error).stack ?? String(e), 1));
