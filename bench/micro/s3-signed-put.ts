/**
 * Micro-benchmark (not a test): what a signed payload costs the coordinator. Large objects go up
 * through the S3 port of a private cluster, alternately as UNSIGNED-PAYLOAD (the bench's S3 rows, the
 * SDKs over TLS) and with their sha256 in x-amz-content-sha256 (aws-cli and botocore over plain HTTP
 * sign every PutObject and UploadPart so). Prints MB/s and the coordinator's CPU ms per MiB of each
 * pass (all its processes), and the medians.
 *
 *   node dist/bench/micro/s3-signed-put.js [MiB=64] [pairs=4]
 */
import { createHash, randomBytes } from "node:crypto";
import { request } from "node:http";
import aws4 from "aws4";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { cpuSnapshot, findServiceProcesses, withChildren } from "../procs";

type Mode = "unsigned" | "signed";

function put(cluster: TestCluster, path: string, body: Buffer, payload: string): Promise<number> {
  const url = new URL(cluster.s3Url);
  const req = {
    host: url.host,
    method: "PUT",
    path,
    service: "s3",
    region: "us-east-1",
    headers: { "content-length": String(body.length), "x-amz-content-sha256": payload } as Record<string, string>,
  };
  aws4.sign(req, { accessKeyId: cluster.accessKey, secretAccessKey: cluster.secretKey });
  return new Promise((resolve, reject) => {
    const r = request({ host: url.hostname, port: url.port, method: "PUT", path, headers: req.headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    r.on("error", reject);
    r.end(body);
  });
}

function coordinatorCpu(cluster: TestCluster): number {
  const procs = withChildren(findServiceProcesses(cluster.httpUrl)).filter((p) => p.name.startsWith("coordinator"));
  let seconds = 0;
  for (const s of cpuSnapshot(procs).values()) seconds += s;
  return seconds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function bench(): Promise<void> {
  const [mib = 64, pairs = 4] = process.argv.slice(2, 4).map(Number);
  const data = randomBytes(mib * 1024 * 1024);
  const sha256 = createHash("sha256").update(data).digest("hex");
  const cluster = await startCluster({ env: { MINIS3_MAX_OBJECT_SIZE: `${mib + 1}MiB` } });
  const figures: Record<Mode, { mbps: number[]; msPerMiB: number[] }> = {
    unsigned: { mbps: [], msPerMiB: [] },
    signed: { mbps: [], msPerMiB: [] },
  };
  try {
    if ((await put(cluster, "/micro", Buffer.alloc(0), "UNSIGNED-PAYLOAD")) !== 200) throw new Error("CreateBucket failed");
    // One of each first, not measured: a fresh cluster's first large upload runs slower.
    await put(cluster, "/micro/warm-1", data, "UNSIGNED-PAYLOAD");
    await put(cluster, "/micro/warm-2", data, sha256);
    for (let p = 0; p < pairs; p++) {
      for (const mode of ["unsigned", "signed"] as Mode[]) {
        const cpu0 = coordinatorCpu(cluster);
        const t0 = process.hrtime.bigint();
        const status = await put(cluster, `/micro/${mode}-${p}`, data, mode === "signed" ? sha256 : "UNSIGNED-PAYLOAD");
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        if (status !== 200) throw new Error(`${mode} pass ${p + 1}: status ${status}`);
        const msPerMiB = ((coordinatorCpu(cluster) - cpu0) * 1000) / mib;
        figures[mode].mbps.push(data.length / 1e6 / secs);
        figures[mode].msPerMiB.push(msPerMiB);
        console.log(
          JSON.stringify({
            pass: p + 1,
            mode,
            mbps: Math.round(data.length / 1e4 / secs) / 100,
            coordinatorMsPerMiB: Math.round(msPerMiB * 100) / 100,
          }),
        );
      }
    }
    for (const mode of ["unsigned", "signed"] as Mode[]) {
      console.log(
        JSON.stringify({
          median: mode,
          mbps: Math.round(median(figures[mode].mbps) * 10) / 10,
          coordinatorMsPerMiB: Math.round(median(figures[mode].msPerMiB) * 100) / 100,
        }),
      );
    }
  } finally {
    await cluster.stop();
  }
}

void bench();
