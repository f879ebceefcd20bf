import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { repoRoot } from "../../services/common/repo-root";
import { TestObjectClient } from "../../services/coordinator/api/testing/grpc-clients";
import { remove, retrieve, signedFetch, upload, uploadSeeded } from "../support/http";
import { scrape, total, type Sample } from "../support/prometheus";
import { s3Client } from "../support/s3";
import { waitFor } from "../support/wait";

// Prometheus metrics (issue 15 item 1): a known amount of traffic through each front door moves each
// process's counters and byte totals by what was sent, scraped from every process's own port.

/** Headers and framing a request adds to its body on the wire, at most (HTTP doors count them). */
const OVERHEAD = 4096;

/** Scrapes until `ok` holds of the samples (gauges read from the catalogue lag up to 10 s). */
function scrapeUntil(url: string, what: string, ok: (s: Sample[]) => boolean): Promise<Sample[]> {
  return waitFor(
    what,
    async () => {
      const s = await scrape(url);
      return ok(s) && s;
    },
    60_000,
    1000,
  );
}

const metricsUrl = (c: TestCluster, name: string) => `http://127.0.0.1:${c.specs.find((s) => s.name === name)!.metricsPort}`;

describe("one coordinator", () => {
  let cluster: TestCluster;
  let grpcClient: TestObjectClient;

  beforeAll(async () => {
    cluster = await startCluster({ storageNodes: 3, env: { MINIS3_TRASH_TTL: "1h" } });
    grpcClient = TestObjectClient.create("generated", cluster.grpcAddress);
  }, 120_000);

  afterAll(async () => {
    grpcClient?.close();
    await cluster?.stop();
  }, 60_000);

  test("every process serves its own /metrics with Node's process metrics, labelled with its service", async () => {
    for (const spec of cluster.specs) {
      expect(spec.metricsPort).toBeGreaterThan(0);
      const samples = await scrape(metricsUrl(cluster, spec.name));
      const rss = samples.find((s) => s.name === "minis3_process_resident_memory_bytes");
      expect(rss?.value).toBeGreaterThan(0);
      expect(rss?.labels.service).toBe(spec.kind);
      if (spec.kind !== "coordinator") expect(rss?.labels.node).toBe(spec.name);
    }
    const notMetrics = await fetch(`${metricsUrl(cluster, "storage-1")}/other`);
    expect(notMetrics.status).toBe(404);
  }, 60_000);

  // A metric renamed or dropped leaves the shipped dashboard's panel empty, silently.
  test("every metric the Grafana dashboard queries is one a process of the cluster serves", async () => {
    const served = new Set<string>();
    for (const spec of cluster.specs) {
      const text = await (await fetch(`${metricsUrl(cluster, spec.name)}/metrics`)).text();
      for (const [, name] of text.matchAll(/^# TYPE (\S+) /gm)) served.add(name);
    }
    const dashboard = JSON.parse(readFileSync(join(repoRoot(__dirname), "deploy/grafana/dashboards/minis3.json"), "utf8")) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const queried = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/\bminis3_\w+/g)].map((m) => m[0])),
    );
    expect(queried.length).toBeGreaterThan(40);
    // A histogram is served under its name; its series add _bucket, _sum and _count.
    const missing = queried.filter((name) => !served.has(name) && !served.has(name.replace(/_(bucket|sum|count)$/, "")));
    expect([...new Set(missing)]).toEqual([]);
  }, 60_000);

  test("/status names each process's metrics port: every node's and the coordinator's; the backup node's free space is its MariaDB's", async () => {
    const status = (await (await signedFetch(`${cluster.httpUrl}/status`)).json()) as {
      nodes: { id: string; metricsPort: number | null; freeBytes: number | null }[];
      coordinators: { metricsPort?: number }[];
    };
    const portOf = (name: string) => cluster.specs.find((s) => s.name === name)!.metricsPort;
    expect(status.nodes.length).toBe(5);
    for (const n of status.nodes) expect(n.metricsPort).toBe(portOf(n.id));
    expect(status.coordinators.map((c) => c.metricsPort)).toEqual([portOf("coordinator")]);
    // MariaDB runs on this host: the free space of its data directory's filesystem, not 0.
    expect(status.nodes.find((n) => n.id === "backup-1")!.freeBytes).toBeGreaterThan(0);
  });

  test("requests, errors and bytes per front door and operation move by the traffic sent; nodes count the replicas' bytes", async () => {
    const storage = cluster.specs.filter((s) => s.kind === "storage").map((s) => s.name);
    const nodeBytesIn = async () => {
      let n = 0;
      for (const name of storage)
        n += total(await scrape(metricsUrl(cluster, name)), "minis3_request_bytes_received_total", { door: "node" });
      return n;
    };
    const coordinator = () => scrape(metricsUrl(cluster, "coordinator"));
    const before = await coordinator();
    const nodesBefore = await nodeBytesIn();
    const delta = (after: Sample[], name: string, labels: Record<string, string>) =>
      total(after, name, labels) - total(before, name, labels);

    // facade: 4 uploads of 10 KiB, 2 reads, 1 read of a missing key
    const facadeBody = randomBytes(10 * 1024);
    for (let i = 0; i < 4; i++) expect((await upload(cluster.httpUrl, `m/facade-${i}`, facadeBody)).status).toBe(201);
    for (let i = 0; i < 2; i++) expect((await retrieve(cluster.httpUrl, `m/facade-${i}`)).status).toBe(200);
    expect((await retrieve(cluster.httpUrl, "m/missing")).status).toBe(404);
    // gRPC: 2 puts of 20 KiB, 2 gets
    const grpcBody = randomBytes(20 * 1024);
    for (let i = 0; i < 2; i++) await grpcClient.put({ key: `m/grpc-${i}` }, [grpcBody]);
    for (let i = 0; i < 2; i++) expect((await grpcClient.get({ key: `m/grpc-${i}` })).data.equals(grpcBody)).toBe(true);
    // S3: 2 PutObjects of 30 KiB, 1 GetObject
    const s3 = s3Client(cluster);
    await s3.send(new CreateBucketCommand({ Bucket: "metrics" }));
    const s3Body = randomBytes(30 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: "metrics", Key: "m/s3-0", Body: s3Body }));
    await s3.send(new PutObjectCommand({ Bucket: "metrics", Key: "m/s3-1", Body: s3Body }));
    const got = await s3.send(new GetObjectCommand({ Bucket: "metrics", Key: "m/s3-0" }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(s3Body)).toBe(true);
    s3.destroy();

    const after = await coordinator();
    const facadeUpload = { door: "facade", op: "POST /upload" };
    const facadeRead = { door: "facade", op: "GET /retrieve" };
    expect(delta(after, "minis3_requests_total", facadeUpload)).toBe(4);
    expect(delta(after, "minis3_request_duration_seconds_count", facadeUpload)).toBe(4);
    const facadeIn = delta(after, "minis3_request_bytes_received_total", facadeUpload);
    expect(facadeIn).toBeGreaterThanOrEqual(4 * facadeBody.length);
    expect(facadeIn).toBeLessThan(4 * (facadeBody.length + OVERHEAD));
    expect(delta(after, "minis3_requests_total", facadeRead)).toBe(3);
    const facadeOut = delta(after, "minis3_request_bytes_sent_total", facadeRead);
    expect(facadeOut).toBeGreaterThanOrEqual(2 * facadeBody.length);
    expect(facadeOut).toBeLessThan(2 * facadeBody.length + 3 * OVERHEAD);
    expect(delta(after, "minis3_request_errors_total", { ...facadeRead, code: "404" })).toBe(1);
    expect(delta(after, "minis3_request_errors_total", facadeUpload)).toBe(0);

    const grpcPut = { door: "grpc", op: "PutObject" };
    expect(delta(after, "minis3_requests_total", grpcPut)).toBe(2);
    const grpcIn = delta(after, "minis3_request_bytes_received_total", grpcPut);
    expect(grpcIn).toBeGreaterThanOrEqual(2 * grpcBody.length);
    expect(grpcIn).toBeLessThan(2 * (grpcBody.length + OVERHEAD));
    const grpcGet = { door: "grpc", op: "GetObject" };
    expect(delta(after, "minis3_requests_total", grpcGet)).toBe(2);
    expect(delta(after, "minis3_request_bytes_sent_total", grpcGet)).toBeGreaterThanOrEqual(2 * grpcBody.length);

    const s3Put = { door: "s3", op: "PutObject" };
    expect(delta(after, "minis3_requests_total", s3Put)).toBe(2);
    const s3In = delta(after, "minis3_request_bytes_received_total", s3Put);
    expect(s3In).toBeGreaterThanOrEqual(2 * s3Body.length);
    expect(s3In).toBeLessThan(2 * (s3Body.length + OVERHEAD));
    const s3Get = { door: "s3", op: "GetObject" };
    expect(delta(after, "minis3_requests_total", s3Get)).toBe(1);
    expect(delta(after, "minis3_request_bytes_sent_total", s3Get)).toBeGreaterThanOrEqual(s3Body.length);

    // Every upload's commit went through the grouped catalogue commit: 8 uploads in 1..8 flushes.
    const commits = delta(after, "minis3_batch_flushes_total", { batch: "catalogue_commit" });
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThanOrEqual(8);
    expect(delta(after, "minis3_batch_size_sum", { batch: "catalogue_commit" })).toBe(8);

    // Two replicas of each upload reached the storage nodes (and the reads' bytes went out).
    const uploaded = 4 * facadeBody.length + 2 * grpcBody.length + 2 * s3Body.length;
    expect((await nodeBytesIn()) - nodesBefore).toBeGreaterThanOrEqual(2 * uploaded);
  }, 120_000);

  test("large bodies are freed as they are used: every piece of an upload's body (aws-chunked and gRPC too), on the coordinator and on each replica, and few full collections", async () => {
    // common/body-pieces.ts: each piece node:http hands over is freed once its bytes are written on.
    // Before it, the pieces waited for collections: the young-gc-pacer's one per 4 MiB, and without
    // that a full one every 12-48 MiB on a storage node (~10 while these 256 MiB of copies arrive).
    const storage = cluster.specs.filter((s) => s.kind === "storage").map((s) => s.name);
    const read = async (name: string) => {
      const s = await scrape(metricsUrl(cluster, name));
      return {
        freed: total(s, "minis3_body_bytes_freed_total"),
        major: total(s, "minis3_nodejs_gc_duration_seconds_count", { kind: "major" }),
      };
    };
    const before = await Promise.all(["coordinator", ...storage].map(read));
    const size = 64 * 1024 * 1024;
    for (let i = 0; i < 2; i++) expect((await uploadSeeded(cluster.httpUrl, `m/large-${i}`, size)).status).toBe(201);
    // The SDK sends a stream body aws-chunked, with a CRC32 trailer: the decoder's slices of each piece.
    const s3 = s3Client(cluster);
    await s3.send(new CreateBucketCommand({ Bucket: "freed" }));
    const sdkSize = 16 * 1024 * 1024;
    const sdkBody = randomBytes(sdkSize);
    const reads = Array.from({ length: sdkSize / 65536 }, (_, i) => sdkBody.subarray(i * 65536, (i + 1) * 65536));
    const put = await s3.send(
      new PutObjectCommand({ Bucket: "freed", Key: "chunked", Body: Readable.from(reads), ContentLength: sdkSize }),
    );
    expect(put.ChecksumCRC32).toBeDefined(); // the trailer came: the body was aws-chunked
    // gRPC: each chunk message's bytes, as the generated decoder copies them out.
    const grpcSize = 16 * 1024 * 1024;
    const grpcBody = randomBytes(grpcSize);
    await grpcClient.put(
      { key: "m/large-grpc" },
      Array.from({ length: 16 }, (_, i) => grpcBody.subarray(i << 20, (i + 1) << 20)),
    );
    const after = await Promise.all(["coordinator", ...storage].map(read));
    const freed = after.map((a, i) => a.freed - before[i].freed);
    const major = after.map((a, i) => a.major - before[i].major);
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    // The coordinator took 128 MiB of plain body, all joined into replica chunks and freed, and the
    // SDK's 16 MiB with its framing (a few bytes per 64 KiB chunk and the trailer), freed with it.
    // The gRPC upload's 16 MiB, freed chunk by chunk.
    expect(freed[0] - 2 * size - grpcSize).toBeGreaterThan(sdkSize);
    expect(freed[0] - 2 * size - grpcSize).toBeLessThan(sdkSize + 65536);
    // The storage nodes took two copies of each, every piece freed once on disk.
    expect(sum(freed.slice(1))).toBe(4 * size + 2 * sdkSize + 2 * grpcSize);
    expect(sum(major.slice(1))).toBeLessThanOrEqual(4);
  }, 120_000);

  test("cluster gauges: objects and bytes per tier, nodes live with their disks, queues; trash moves counted with their lateness", async () => {
    const body = randomBytes(5000);
    for (let i = 0; i < 3; i++) expect((await upload(cluster.httpUrl, `g/${i}`, body)).status).toBe(201);
    expect((await remove(cluster.httpUrl, "g/2")).status).toBe(200);

    const url = metricsUrl(cluster, "coordinator");
    // Tier totals are read from the catalogue at most every 10 s.
    const samples = await scrapeUntil(
      url,
      "the tier gauges to show the trashed version",
      (s) => total(s, "minis3_tier_objects", { tier: "trash" }) >= 1,
    );
    expect(total(samples, "minis3_tier_objects", { tier: "hot" })).toBeGreaterThanOrEqual(2);
    expect(total(samples, "minis3_tier_bytes", { tier: "hot" })).toBeGreaterThanOrEqual(2 * body.length);
    for (const node of ["storage-1", "storage-2", "storage-3", "backup-1", "delete-1"]) {
      expect(total(samples, "minis3_node_live", { node })).toBe(1);
      expect(total(samples, "minis3_node_state", { node, state: "up" })).toBe(1);
    }
    expect(total(samples, "minis3_node_free_bytes", { node: "storage-1" })).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === "minis3_queue_jobs" && s.labels.queue === "repair")).toBe(true);

    // The trash move (to the delete node) is the due-row poller's: counted as moved, its lateness observed.
    const moved = await scrapeUntil(
      url,
      "the trash move to be counted",
      (s) => total(s, "minis3_lifecycle_transitions_total", { transition: "trash", outcome: "moved" }) >= 1,
    );
    expect(total(moved, "minis3_lifecycle_lateness_seconds_count", { transition: "trash" })).toBeGreaterThanOrEqual(1);

    const storage = await scrape(metricsUrl(cluster, "storage-1"));
    expect(total(storage, "minis3_store_free_bytes")).toBeGreaterThan(0);
    expect(storage.some((s) => s.name === "minis3_store_blobs")).toBe(true);
    // How close its index is to the bound past which small puts are refused.
    expect(total(storage, "minis3_store_small_blobs_max")).toBeGreaterThan(1_000_000);
    expect(total(storage, "minis3_store_small_blobs")).toBeGreaterThanOrEqual(1);
    // Compaction's counters, by path: there before any pass has run (a rate needs the zero).
    for (const path of ["index", "scan"]) {
      expect(storage.some((s) => s.name === "minis3_store_compacted_segments_total" && s.labels.path === path)).toBe(true);
    }
    for (const name of ["passes", "read_bytes", "copied_bytes", "freed_bytes"]) {
      expect(storage.some((s) => s.name === `minis3_store_compaction_${name}_total`)).toBe(true);
    }
  }, 150_000);
});

describe("a group of two coordinators", () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startCluster({ storageNodes: 2, env: { MINIS3_COORDINATORS: "2" } });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  test("the primary serves the workers' metrics merged: counters summed over both, cluster-wide gauges not doubled", async () => {
    const url = metricsUrl(cluster, "coordinator");
    const op = { door: "facade", op: "POST /upload" };
    const before = total(await scrape(url), "minis3_requests_total", op);
    const body = randomBytes(2000);
    // Each upload on a fresh connection: the primary hands connections to the workers in turn.
    for (let i = 0; i < 6; i++) {
      const res = await upload(cluster.httpUrl, `group/${i}`, body);
      expect(res.status).toBe(201);
    }
    const samples = await scrapeUntil(
      url,
      "the tier gauge to count the uploads",
      (s) => total(s, "minis3_tier_objects", { tier: "hot" }) >= 6,
    );
    expect(total(samples, "minis3_requests_total", op) - before).toBe(6);
    expect(total(samples, "minis3_tier_objects", { tier: "hot" })).toBe(6);
    expect(total(samples, "minis3_node_live", { node: "storage-1" })).toBe(1);
  }, 120_000);
});
