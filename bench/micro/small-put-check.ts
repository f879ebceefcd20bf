/**
 * Micro-benchmark (not a test): a storage node's CPU per small put for checking the bytes and
 * encoding the segment record (SegmentStore.put before its group write), checked by sha256 (a put
 * without the sender's crc32) or by the crc32 the record's header holds (one with it). No disk: the
 * write and fdatasync are the same either way and would only add their noise.
 *
 *   node dist/bench/micro/small-put-check.js [size=4096] [rounds=7] [perRound=20000]
 *
 * The two run alternated, round by round; each line gives µs per put of each, the median last.
 */
import { hash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import { encodeRecord, PUT } from "../../services/blobstore/segment-record";

const [size = 4096, rounds = 7, perRound = 20_000] = process.argv.slice(2, 5).map(Number);
const data = randomBytes(size);
const sha256 = hash("sha256", data, "buffer");
const crc = crc32(data);
const attributes = {};
let sink = 0;

const variants: Record<string, (i: number) => void> = {
  // What SegmentStore.put did for every put: hash, compare, then the record (its crc32 taken inside).
  sha256: (i) => {
    if (!hash("sha256", data, "buffer").equals(sha256)) throw new Error("mismatch");
    sink += encodeRecord({ type: PUT, blobId: `0193abcdef0123456789ab${i}`, attributes, seq: i, storedAtMs: 1, sha256, data }).length;
  },
  // What it does given the sender's crc32: the crc32 once, compared, and reused for the record.
  crc32: (i) => {
    const dataCrc = crc32(data);
    if (dataCrc !== crc) throw new Error("mismatch");
    sink += encodeRecord({
      type: PUT,
      blobId: `0193abcdef0123456789ab${i}`,
      attributes,
      seq: i,
      storedAtMs: 1,
      sha256,
      data,
      dataCrc,
    }).length;
  },
};

const results: Record<string, number[]> = { sha256: [], crc32: [] };
for (const name in variants) for (let i = 0; i < perRound; i++) variants[name](i); // warm-up
for (let round = 0; round < rounds; round++) {
  for (const name of round % 2 ? ["crc32", "sha256"] : ["sha256", "crc32"]) {
    const f = variants[name];
    const c0 = process.cpuUsage();
    for (let i = 0; i < perRound; i++) f(i);
    const c = process.cpuUsage(c0);
    results[name].push((c.user + c.system) / perRound);
  }
  console.log(`round ${round}: sha256 ${results.sha256[round].toFixed(2)} µs, crc32 ${results.crc32[round].toFixed(2)} µs`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  JSON.stringify({
    size,
    rounds,
    sha256UsMedian: +median(results.sha256).toFixed(2),
    crc32UsMedian: +median(results.crc32).toFixed(2),
    sink,
  }),
);
