import { createHash, randomBytes } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { RowDataPacket } from "mysql2/promise";
import { compressibleBytes, MiB, PIECE, useColdTier } from "./test-support";

// A 64 MiB blob through the cold tier: memory must stay bounded by a few chunks (never the blob),
// and the throughput is printed for the report.

const cold = useColdTier("backup-big");

// V8 frees 1 MiB Buffers lazily (garbage can reach tens of MiB before a GC), so RSS alone cannot
// tell "bounded" from "buffered" at 64 MiB. Collecting every few MiB makes RSS show live memory.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Peak RSS above the value when created, sampled by the caller (after a GC every 4 MiB moved). */
class RssWatch {
  private readonly base: number;
  private sinceGc = 0;
  peak = 0;
  /** Time spent in those GCs, left out of the throughput figures. */
  gcSeconds = 0;
  constructor() {
    gc();
    this.base = process.memoryUsage().rss;
  }
  sample(bytesMoved: number): void {
    this.sinceGc += bytesMoved;
    if (this.sinceGc >= 4 * MiB) {
      this.sinceGc = 0;
      const t = process.hrtime.bigint();
      gc();
      this.gcSeconds += Number(process.hrtime.bigint() - t) / 1e9;
    }
    this.peak = Math.max(this.peak, process.memoryUsage().rss - this.base);
  }
}

async function roundTrip(blobId: string, total: number, source: Buffer) {
  // Pieces are slices of a small source at shifting offsets: the test itself never holds the blob.
  const pieceAt = (i: number) => source.subarray((i * 4099) % (source.length - PIECE), ((i * 4099) % (source.length - PIECE)) + PIECE);
  const expected = createHash("sha256");
  let watch = new RssWatch();

  let t = process.hrtime.bigint();
  const w = await cold.backend.beginWrite(blobId, {});
  for (let i = 0; i * PIECE < total; i++) {
    const piece = pieceAt(i);
    expected.update(piece);
    await w.write(piece);
    watch.sample(piece.length);
  }
  const digest = expected.digest();
  await w.commit(total, digest);
  const writeS = Number(process.hrtime.bigint() - t) / 1e9 - watch.gcSeconds;
  const writePeak = watch.peak;
  watch = new RssWatch();

  t = process.hrtime.bigint();
  const got = createHash("sha256");
  let bytes = 0;
  const r = await cold.backend.read(blobId, 0, undefined);
  for await (const c of r.chunks) {
    got.update(c);
    bytes += c.length;
    watch.sample(c.length);
  }
  const readS = Number(process.hrtime.bigint() - t) / 1e9 - watch.gcSeconds;
  expect(bytes).toBe(total);
  expect(got.digest()).toEqual(digest);
  return {
    writeMBps: total / MiB / writeS,
    readMBps: total / MiB / readS,
    peakRssGrowthMiB: Math.max(writePeak, watch.peak) / MiB,
    text:
      `write ${(total / MiB / writeS).toFixed(1)} MB/s (peak RSS +${(writePeak / MiB).toFixed(1)} MiB), ` +
      `read ${(total / MiB / readS).toFixed(1)} MB/s (peak RSS +${(watch.peak / MiB).toFixed(1)} MiB)`,
  };
}

test("64 MiB incompressible blob: bounded memory, throughput reported", async () => {
  const source = randomBytes(8 * MiB);
  const m = await roundTrip("big-random", 64 * MiB, source);
  console.log(`cold tier, 64 MiB random: ${m.text}`);
  // Buffering the blob would cost ≥ 64 MiB; a few chunks in flight cost a few MiB (loose bound).
  expect(m.peakRssGrowthMiB).toBeLessThan(32);
  const [[row]] = await cold.db.pool.query<RowDataPacket[]>(
    "SELECT COUNT(*) AS n, MAX(raw_size) AS biggest FROM backup_chunks WHERE node_id = 'backup-big' AND blob_id = 'big-random'",
  );
  expect(Number(row.n)).toBe(64);
  expect(Number(row.biggest)).toBe(MiB);
});

test("16 MiB compressible blob: throughput reported", async () => {
  const m = await roundTrip("big-text", 16 * MiB, compressibleBytes(4 * MiB));
  console.log(`cold tier, 16 MiB text: ${m.text}`);
  expect(m.peakRssGrowthMiB).toBeLessThan(32);
  const [[row]] = await cold.db.pool.query<RowDataPacket[]>(
    "SELECT COUNT(*) AS n, SUM(codec = 'deflate') AS deflated FROM backup_chunks WHERE node_id = 'backup-big' AND blob_id = 'big-text'",
  );
  expect([Number(row.n), Number(row.deflated)]).toEqual([16, 16]);
});
