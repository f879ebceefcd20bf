import { ConfigError, queuePrefix, readConfig, resolveWriteQuorum, SETTINGS, type SettingKey } from "./config";
import { parseDuration, parseSize } from "./units";

describe("configuration", () => {
  it("reads defaults and typed values", () => {
    const c = readConfig(["httpPort", "hotTtl", "maxObjectSize", "replicas"], { MINIS3_HOT_TTL: "2s", MINIS3_REPLICAS: "3" });
    expect(c).toEqual({ httpPort: 8080, hotTtl: 2000, maxObjectSize: 5 * 1024 ** 3, replicas: 3 });
  });

  it("names every bad variable in one error", () => {
    let err: unknown;
    try {
      readConfig(["httpPort", "hotTtl", "replicas"], { MINIS3_HTTP_PORT: "eighty", MINIS3_HOT_TTL: "soon", MINIS3_REPLICAS: "0" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    for (const name of ["MINIS3_HTTP_PORT", "MINIS3_HOT_TTL", "MINIS3_REPLICAS"]) expect(message).toContain(name);
  });

  it("reads every default, and refuses each kind of bad value with the variable named", () => {
    const all = Object.keys(SETTINGS) as SettingKey[];
    expect(() => readConfig(all, {})).not.toThrow();
    const bad: [SettingKey, string, RegExp][] = [
      ["httpPort", "65536", /MINIS3_HTTP_PORT=.*from 0 to 65535/],
      ["httpPort", "80.5", /MINIS3_HTTP_PORT=.*whole number/],
      ["replicas", "0", /MINIS3_REPLICAS=.*at least 1/],
      ["host", "", /MINIS3_HOST=.*empty/],
      ["mysqlUrl", "postgres://x/y", /MINIS3_MYSQL_URL=.*mysql:\/\//],
      ["mysqlUrl", "not a url", /MINIS3_MYSQL_URL/],
      ["queuePrefix", "a b", /MINIS3_QUEUE_PREFIX/],
      ["nodeId", "a/b", /MINIS3_NODE_ID/],
      ["secretKey", "x".repeat(257), /MINIS3_SECRET_KEY/],
      ["clusterSecret", "short", /MINIS3_CLUSTER_SECRET=.*16-256/],
      ["logLevel", "loud", /MINIS3_LOG_LEVEL=.*one of fatal/],
      ["cacheLease", "100ms", /MINIS3_CACHE_LEASE=.*at least 200ms/],
      ["httpHeadersTimeout", "0", /MINIS3_HTTP_HEADERS_TIMEOUT=.*more than 0/],
      ["chunkSize", "big", /MINIS3_CHUNK_SIZE/],
      // Once a count of rows: 10000 read as bytes would be a cache of ~7 rows, silently.
      ["readCache", "10000", /MINIS3_READ_CACHE=.*needs a unit/],
    ];
    for (const [key, value, message] of bad) {
      expect(() => readConfig([key], { [SETTINGS[key].env]: value })).toThrow(message);
    }
    expect(readConfig(["nodeId", "metricsPort", "logLevel"], { MINIS3_NODE_ID: "storage-1", MINIS3_METRICS_PORT: "" })).toEqual({
      nodeId: "storage-1",
      metricsPort: 0,
      logLevel: "info",
    });
  });

  it("defaults the write quorum to a majority and refuses one above the replica count", () => {
    expect(resolveWriteQuorum(2, "")).toBe(2);
    expect(resolveWriteQuorum(3, "")).toBe(2);
    expect(resolveWriteQuorum(3, "1")).toBe(1);
    expect(() => resolveWriteQuorum(2, "3")).toThrow(/MINIS3_WRITE_QUORUM/);
  });

  it("takes a read cache size with a unit, or 0 (off)", () => {
    expect(readConfig(["readCache"], {}).readCache).toBe(8 * 1024 ** 2); // the coordinator's memory peak: config.ts
    expect(readConfig(["readCache"], { MINIS3_READ_CACHE: "32MiB" }).readCache).toBe(32 * 1024 ** 2);
    expect(readConfig(["readCache"], { MINIS3_READ_CACHE: "0" }).readCache).toBe(0);
  });

  it("takes a body cache size in bytes, with or without a unit, or 0 (off)", () => {
    expect(readConfig(["bodyCacheBytes"], {}).bodyCacheBytes).toBe(8 * 1024 ** 2);
    expect(readConfig(["bodyCacheBytes"], { MINIS3_BODY_CACHE_BYTES: "64MiB" }).bodyCacheBytes).toBe(64 * 1024 ** 2);
    expect(readConfig(["bodyCacheBytes"], { MINIS3_BODY_CACHE_BYTES: "0" }).bodyCacheBytes).toBe(0);
    expect(() => readConfig(["bodyCacheBytes"], { MINIS3_BODY_CACHE_BYTES: "lots" })).toThrow(/MINIS3_BODY_CACHE_BYTES/);
  });

  it("takes the large uploads streamed at once (at least one) and how long one waits for its turn", () => {
    expect(readConfig(["largeUploads", "largeUploadWait"], {})).toEqual({ largeUploads: 8, largeUploadWait: 20_000 });
    expect(readConfig(["largeUploads", "largeUploadWait"], { MINIS3_LARGE_UPLOADS: "2", MINIS3_LARGE_UPLOAD_WAIT: "500ms" })).toEqual({
      largeUploads: 2,
      largeUploadWait: 500,
    });
    expect(() => readConfig(["largeUploads"], { MINIS3_LARGE_UPLOADS: "0" })).toThrow(/MINIS3_LARGE_UPLOADS/);
  });

  it("takes the upload buffer's size (0: no bound) and how long an upload waits for room in it", () => {
    expect(readConfig(["uploadBuffer", "uploadBufferWait"], {})).toEqual({ uploadBuffer: 64 * 1024 * 1024, uploadBufferWait: 20_000 });
    expect(readConfig(["uploadBuffer"], { MINIS3_UPLOAD_BUFFER: "0" }).uploadBuffer).toBe(0);
    expect(readConfig(["uploadBuffer", "uploadBufferWait"], { MINIS3_UPLOAD_BUFFER: "8MiB", MINIS3_UPLOAD_BUFFER_WAIT: "1s" })).toEqual({
      uploadBuffer: 8 * 1024 * 1024,
      uploadBufferWait: 1000,
    });
    expect(() => readConfig(["uploadBuffer"], { MINIS3_UPLOAD_BUFFER: "lots" })).toThrow(/MINIS3_UPLOAD_BUFFER/);
  });

  it("takes a scrub rate of 0 (off) and refuses an orphan grace under a second", () => {
    expect(readConfig(["scrubRate", "orphanGrace"], {})).toEqual({ scrubRate: 4 * 1024 ** 2, orphanGrace: 3_600_000 });
    expect(readConfig(["scrubRate"], { MINIS3_SCRUB_RATE: "0" }).scrubRate).toBe(0);
    expect(() => readConfig(["scrubRate"], { MINIS3_SCRUB_RATE: "fast" })).toThrow(/MINIS3_SCRUB_RATE/);
    expect(() => readConfig(["orphanGrace"], { MINIS3_ORPHAN_GRACE: "10ms" })).toThrow(/MINIS3_ORPHAN_GRACE.*at least 1s/);
  });

  it("wraps the queue prefix in a Redis Cluster hash tag once", () => {
    expect(queuePrefix("minis3")).toBe("{minis3}");
    expect(queuePrefix("{mine}")).toBe("{mine}");
  });

  it("parses durations and sizes in human units", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("30m")).toBe(1_800_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("250")).toBe(250);
    expect(() => parseDuration("5 minutes")).toThrow(/not a duration/);
    expect(parseSize("64KiB")).toBe(65536);
    expect(parseSize("5GiB")).toBe(5 * 1024 ** 3);
    expect(parseSize("4k")).toBe(4000);
    expect(() => parseSize("lots")).toThrow(/not a size/);
  });
});
