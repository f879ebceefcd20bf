import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { forgetKeyPair, rememberKeyPair } from "../../deploy/launcher/client-credentials";
import { repoRoot } from "../../deploy/launcher/paths";
import { seededBytes, sha256 } from "../support/bodies";
import {
  NOT_RUN,
  SHARED,
  processesMarked,
  readComposeFile,
  scrapeTargets,
  startComposeStack,
  type ComposeStack,
} from "../support/compose-stack";
import { keyQuery, retrieve, signedFetch, upload } from "../support/http";
import { s3Client } from "../support/s3";
import { waitFor } from "../support/wait";

// The compose stack without Docker: deploy/check-compose.py validates the file (docker-compose's
// schema, Prometheus, Grafana), then every service runs here with its own command and environment
// (test/support/compose-stack.ts) and an object goes through HAProxy's facade and S3 ports.

const root = repoRoot(__dirname);

/** One upload through the facade: true once stored (201), else throws with the answer (waitFor shows the last). */
async function uploaded(base: string, key: string, body: Buffer): Promise<true> {
  const res = await upload(base, key, body);
  if (res.status !== 201) throw new Error(`HTTP ${res.status} ${res.body.toString().slice(0, 200)}`);
  return true;
}
const run = promisify(execFile);

// Generous: seven node processes, HAProxy and the health probes start on two shared, busy cores.
const START_MS = 180_000;

it("passes deploy/check-compose.py: docker-compose config, health checks, Prometheus targets, Grafana provisioning", async () => {
  const { stdout } = await run("python3", ["deploy/check-compose.py"], { cwd: root });
  expect(stdout).toMatch(/docker-compose\.yml OK/);
}, 120_000);

describe("every compose service run locally with its command and environment", () => {
  let stack: ComposeStack;
  let s3: S3Client;
  let facade: string;

  beforeAll(async () => {
    stack = await startComposeStack();
    facade = stack.url("haproxy", 8080);
    rememberKeyPair([facade], { accessKey: stack.accessKey, secretKey: stack.secretKey });
    s3 = s3Client({ s3Url: stack.url("haproxy", 9000), accessKey: stack.accessKey, secretKey: stack.secretKey });
  }, 60_000);

  afterAll(async () => {
    s3?.destroy();
    forgetKeyPair([facade]);
    await stack?.stop();
  }, 60_000);

  it("runs every service but the shared MariaDB and Redis and the absent Prometheus and Grafana", () => {
    const all = Object.keys(readComposeFile(root).services);
    expect([...stack.services.keys()].sort()).toEqual(all.filter((n) => !SHARED.includes(n) && !NOT_RUN.includes(n)).sort());
  });

  it(
    "has each service pass its own compose health check",
    async () => {
      for (const name of stack.services.keys()) {
        await waitFor(`${name}'s health check`, async () => (await stack.healthcheck(name)) === 0, START_MS, 1_000).catch((e: Error) => {
          throw new Error(`${e.message}\n${stack.describe()}`);
        });
      }
    },
    START_MS * 2,
  );

  it("round-trips an object through HAProxy's facade port", async () => {
    const body = seededBytes("compose-facade", 300_000);
    // HAProxy has taken a coordinator in once its own checks pass (two in a row, 500 ms apart).
    await waitFor("an upload through HAProxy", () => uploaded(facade, "compose/facade.bin", body), 30_000, 500);
    const got = await retrieve(facade, "compose/facade.bin");
    expect(got.status).toBe(200);
    expect(sha256(got.body)).toBe(sha256(body));
  }, 60_000);

  it("round-trips an object through HAProxy's S3 port, and reads it back through the facade", async () => {
    const body = seededBytes("compose-s3", 200_000);
    await s3.send(new CreateBucketCommand({ Bucket: "compose" }));
    await s3.send(new PutObjectCommand({ Bucket: "compose", Key: "s3.bin", Body: body }));
    const got = await s3.send(new GetObjectCommand({ Bucket: "compose", Key: "s3.bin" }));
    expect(sha256(Buffer.from(await got.Body!.transformToByteArray()))).toBe(sha256(body));
    const viaFacade = await signedFetch(`${facade}/retrieve?${keyQuery("s3.bin", "compose")}`);
    expect(viaFacade.status).toBe(200);
    expect(sha256(Buffer.from(await viaFacade.arrayBuffer()))).toBe(sha256(body));
  }, 60_000);

  it("serves metrics on every target deploy/prometheus.yml scrapes, counting the S3 upload just made", async () => {
    const targets = scrapeTargets(root).filter((t) => stack.services.has(t.split(":")[0]));
    expect(targets.length).toBe([...stack.services.keys()].filter((n) => n !== "haproxy").length);
    let s3Puts = 0;
    for (const target of targets) {
      const [service, port] = target.split(":");
      const res = await fetch(`${stack.url(service, Number(port))}/metrics`);
      const text = await res.text();
      expect({ target, status: res.status }).toEqual({ target, status: 200 });
      expect(text).toMatch(/^minis3_process_resident_memory_bytes/m);
      for (const [, labels, value] of text.matchAll(/^minis3_requests_total\{([^}]*)\} (\S+)$/gm)) {
        if (labels.includes('door="s3"') && labels.includes('op="PutObject"')) s3Puts += Number(value);
      }
    }
    // one PutObject through HAProxy's S3 port (no retries), on whichever coordinator it reached
    expect(s3Puts).toBe(1);
  }, 60_000);

  it("keeps serving through HAProxy when a coordinator stops, and the stopped services fail their health checks", async () => {
    await stack.stopService("coordinator-1");
    await stack.stopService("storage-3");
    expect(await stack.healthcheck("coordinator-1")).not.toBe(0);
    expect(await stack.healthcheck("storage-3")).not.toBe(0);
    const body = seededBytes("compose-after", 100_000);
    // Connections already sent to coordinator-1 fail until HAProxy's checks take it out (~1 s).
    await waitFor("an upload through HAProxy to coordinator-2", () => uploaded(facade, "compose/after.bin", body), 30_000, 500);
    expect(sha256((await retrieve(facade, "compose/after.bin")).body)).toBe(sha256(body));
  }, 60_000);

  it("stops every process it started", async () => {
    await stack.stop();
    expect(await processesMarked(stack.marker)).toEqual([]);
  }, 60_000);
});
