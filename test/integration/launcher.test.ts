import { ConfigError } from "../../services/common/config";
import { planCluster, type ClusterShape } from "../../deploy/launcher/plan";
import { ephemeralPortRange, portsInRange } from "../../deploy/launcher/ports";
import { readClusterShape } from "../../deploy/launcher/shape";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const shape: ClusterShape = {
  host: "0.0.0.0",
  httpPort: 8080,
  grpcPort: 50051,
  nodeBasePort: 50100,
  metricsBasePort: 9100,
  storageNodes: 3,
  dataDir: "/var/minis3",
  repoRoot: "/repo",
};

describe("planCluster", () => {
  const env = { PATH: "/usr/bin", MINIS3_REPLICAS: "2", MINIS3_NODE_ID: "leaked", MINIS3_DATA_DIR: "/var/minis3", UNSET: undefined };
  const plan = planCluster(shape, env);

  it("plans one coordinator, N storage nodes, one backup and one delete node, in that order", () => {
    expect(plan.map((p) => [p.name, p.kind])).toEqual([
      ["coordinator", "coordinator"],
      ["storage-1", "storage"],
      ["storage-2", "storage"],
      ["storage-3", "storage"],
      ["backup-1", "backup"],
      ["delete-1", "delete"],
    ]);
  });

  it("runs each kind's compiled entry point", () => {
    expect(plan.map((p) => p.script)).toEqual([
      "/repo/dist/services/coordinator/main.js",
      "/repo/dist/services/storage-node/main.js",
      "/repo/dist/services/storage-node/main.js",
      "/repo/dist/services/storage-node/main.js",
      "/repo/dist/services/backup-node/main.js",
      "/repo/dist/services/delete-node/main.js",
    ]);
  });

  it("gives nodes consecutive ports from the base, addresses others can dial, and their own data dirs", () => {
    const nodes = plan.slice(1);
    expect(nodes.map((n) => n.env.MINIS3_NODE_PORT)).toEqual(["50100", "50101", "50102", "50103", "50104"]);
    expect(nodes.map((n) => n.env.MINIS3_NODE_ID)).toEqual(["storage-1", "storage-2", "storage-3", "backup-1", "delete-1"]);
    // 0.0.0.0 is where they listen, not where anyone can connect
    expect(nodes.map((n) => n.env.MINIS3_NODE_ADDRESS)).toEqual([
      "127.0.0.1:50100",
      "127.0.0.1:50101",
      "127.0.0.1:50102",
      "127.0.0.1:50103",
      "127.0.0.1:50104",
    ]);
    expect(nodes.map((n) => n.env.MINIS3_DATA_DIR)).toEqual(
      ["storage-1", "storage-2", "storage-3", "backup-1", "delete-1"].map((id) => `/var/minis3/${id}`),
    );
    expect(nodes.map((n) => n.port)).toEqual([50100, 50101, 50102, 50103, 50104]);
  });

  it("gives the coordinator its HTTP and gRPC ports and no node identity", () => {
    const c = plan[0];
    expect(c.env.MINIS3_HTTP_PORT).toBe("8080");
    expect(c.env.MINIS3_GRPC_PORT).toBe("50051");
    expect(c.port).toBe(8080);
    expect(c.address).toBe("127.0.0.1:50051");
    expect(c.env.MINIS3_NODE_ID).toBeUndefined();
  });

  it("passes the rest of the environment through to every process, but not undefined values", () => {
    for (const p of plan) {
      expect(p.env.PATH).toBe("/usr/bin");
      expect(p.env.MINIS3_REPLICAS).toBe("2");
      expect(p.env.MINIS3_HOST).toBe("0.0.0.0");
      expect("UNSET" in p.env).toBe(false);
    }
  });

  it("gives the blob nodes and the coordinator their own glibc malloc settings (a value in the environment wins)", () => {
    for (const p of plan.slice(1)) expect(p.env).toMatchObject({ MALLOC_TRIM_THRESHOLD_: "33554432", MALLOC_TOP_PAD_: "4194304" });
    for (const p of plan.slice(1)) expect(p.env.MALLOC_MMAP_THRESHOLD_).toBeUndefined();
    expect(plan[0].env.MALLOC_TRIM_THRESHOLD_).toBeUndefined();
    expect(plan[0].env.MALLOC_MMAP_THRESHOLD_).toBe("1048576");
    const own = planCluster(shape, { MALLOC_TRIM_THRESHOLD_: "131072", MALLOC_MMAP_THRESHOLD_: "65536" });
    expect(own.map((p) => p.env.MALLOC_TRIM_THRESHOLD_)).toEqual(own.map(() => "131072"));
    expect(own.map((p) => p.env.MALLOC_MMAP_THRESHOLD_)).toEqual(own.map(() => "65536"));
  });

  it("does not change the env it was given", () => {
    expect(env.MINIS3_NODE_ID).toBe("leaked");
  });

  it("uses a concrete listen host as the dial address", () => {
    const p = planCluster({ ...shape, host: "10.1.2.3", storageNodes: 1 }, {});
    expect(p.map((s) => s.address)).toEqual(["10.1.2.3:50051", "10.1.2.3:50100", "10.1.2.3:50101", "10.1.2.3:50102"]);
  });

  it("is deterministic and scales with the storage node count", () => {
    expect(planCluster(shape, env)).toEqual(plan);
    const five = planCluster({ ...shape, storageNodes: 5 }, {});
    expect(five.map((s) => s.name)).toEqual([
      "coordinator",
      "storage-1",
      "storage-2",
      "storage-3",
      "storage-4",
      "storage-5",
      "backup-1",
      "delete-1",
    ]);
    expect(five.at(-1)!.port).toBe(50106);
  });

  it("gives every process its own metrics port from the base, in plan order, or none with base 0", () => {
    expect(plan.map((p) => [p.metricsPort, p.env.MINIS3_METRICS_PORT])).toEqual(
      [9100, 9101, 9102, 9103, 9104, 9105].map((port) => [port, String(port)]),
    );
    const off = planCluster({ ...shape, metricsBasePort: 0 }, { MINIS3_METRICS_PORT: "9999" });
    expect(off.map((p) => [p.metricsPort, p.env.MINIS3_METRICS_PORT])).toEqual(off.map(() => [0, "0"]));
  });

  it("rejects shapes that cannot run", () => {
    expect(() => planCluster({ ...shape, storageNodes: 0 }, {})).toThrow(RangeError);
    expect(() => planCluster({ ...shape, nodeBasePort: 65534 }, {})).toThrow(/do not fit/);
    expect(() => planCluster({ ...shape, nodeBasePort: 0 }, {})).toThrow(RangeError);
  });
});

describe("readClusterShape", () => {
  it("reads the launcher's settings with their defaults", () => {
    expect(readClusterShape({}, "/repo")).toEqual({
      host: "0.0.0.0",
      httpPort: 8080,
      grpcPort: 50051,
      nodeBasePort: 7100,
      metricsBasePort: 9100,
      storageNodes: 3,
      dataDir: "./data",
      repoRoot: "/repo",
    });
    expect(readClusterShape({ MINIS3_STORAGE_NODES: "5", MINIS3_NODE_BASE_PORT: "41000" }, "/r")).toMatchObject({
      storageNodes: 5,
      nodeBasePort: 41000,
    });
  });

  it("rejects bad values of any setting up front, naming each variable", () => {
    let err: unknown;
    try {
      readClusterShape({ MINIS3_STORAGE_NODES: "zero", MINIS3_HOT_TTL: "soon" }, "/repo");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/MINIS3_STORAGE_NODES/);
    expect((err as Error).message).toMatch(/MINIS3_HOT_TTL/);
  });

  it("does not check per-node settings the plan replaces", () => {
    expect(() => readClusterShape({ MINIS3_NODE_ID: "not a valid id!" }, "/repo")).not.toThrow();
  });
});

describe("node ports and the kernel's ephemeral range", () => {
  it("reads the range, and finds nothing to warn about where it cannot", () => {
    const dir = mkdtempSync(join(tmpdir(), "minis3-range-"));
    const file = join(dir, "ip_local_port_range");
    try {
      writeFileSync(file, "32768\t60999\n");
      expect(ephemeralPortRange(file)).toEqual([32768, 60999]);
      expect(ephemeralPortRange(join(file, "missing"))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(portsInRange([7100, 32767, 32768, 50100, 60999, 61000], [32768, 60999])).toEqual([32768, 50100, 60999]);
    expect(portsInRange([50100], undefined)).toEqual([]);
  });

  it("places a default cluster's nodes below Linux's default range, so a restart finds its port free", () => {
    const nodes = planCluster(readClusterShape({ MINIS3_STORAGE_NODES: "12" }, "/repo"), {}).filter((p) => p.kind !== "coordinator");
    expect(
      portsInRange(
        nodes.map((n) => n.port),
        [32768, 60999],
      ),
    ).toEqual([]);
  });
});
