import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import type { Pool } from "mysql2/promise";
import { NotFoundError } from "../../../common/errors";
import { DiskBackend } from "../../../blobstore/disk-backend";
import type { NodeStats } from "../../../membership/node-record";
import type { BlobBackend, BlobMeta, BlobReader, BlobVerification, BlobWriter, WireCheck } from "../../../rpc/blob-backend";
import type { NodeClientOptions } from "../../../rpc/client/node-client";
import { startNodeServer, type RunningNodeServer } from "../../../rpc/server/node-server";
import { silentLog, tempDir } from "../../../rpc/testing/test-helpers";
import { corruptBlobData } from "../../../blobstore/testing/corrupt-blob-file";
import type { VersionRow } from "../../model/version-row";
import { NodeDirectory } from "../../cluster/node-directory";
import { NodePool } from "../../cluster/node-pool";

/**
 * A storage node's disk with faults a test switches on, and a record of the reads it served (the
 * node server reads small and streamed blobs alike through read()).
 */
export class FaultyBackend implements BlobBackend {
  readonly kind = "storage" as const;
  readonly reads: { blobId: string; offset: number }[] = [];
  /** Streamed writes committed, in order. */
  readonly commits: string[] = [];
  /** How each streamed write was to check its bytes at commit, in order begun. */
  readonly writeChecks: { blobId: string; check: WireCheck }[] = [];
  /** A streamed read breaks once it has served this many bytes (a failing disk, a killed process). */
  breakReadsAfter?: number;
  /** A streamed read finds its blob gone once it has served this many bytes (a move deleted the copy under it). */
  vanishReadsAfter?: number;
  /** Reads serve bytes with one bit flipped (a copy that rotted on disk, unnoticed until checked). */
  corruptReads = false;
  /** Streamed writes take every byte but their commit never returns (an fsync stuck on a dead disk). */
  stallCommits = false;
  /** Streamed writes stop taking bytes after this many (a write stuck in the kernel). */
  stallWritesAfter?: number;
  /** Streamed writes fail once they have taken this many bytes (a node that died mid-upload). */
  breakWritesAfter?: number;
  /** A streamed read stops sending, without failing, once it has served this many bytes. */
  stallReadsAfter?: number;
  /** A listing stops sending, without failing, after this many entries. */
  stallListAfter?: number;
  /** Pending stalls, released (failed) when the backend closes so the server can stop. */
  private readonly stalls = new Set<(resume: boolean) => void>();

  constructor(readonly disk: DiskBackend) {}

  open(): Promise<void> {
    return this.disk.open();
  }
  close(): Promise<void> {
    this.releaseStalls();
    return this.disk.close();
  }
  /** Ends every stall in progress: each stalled call fails (a disk that gave up) or, with `resume`, goes on (one that came back). */
  releaseStalls(resume = false): void {
    for (const release of this.stalls) release(resume);
    this.stalls.clear();
  }
  async beginWrite(blobId: string, attributes: Record<string, string>, check?: WireCheck): Promise<BlobWriter> {
    this.writeChecks.push({ blobId, check: check ?? "sha256" });
    const w = await this.disk.beginWrite(blobId, attributes, check);
    let taken = 0;
    return {
      write: async (chunk) => {
        taken += chunk.length;
        if (this.breakWritesAfter !== undefined && taken > this.breakWritesAfter) throw new Error("disk write failed (test fault)");
        if (this.stallWritesAfter !== undefined && taken > this.stallWritesAfter) await this.stall();
        return w.write(chunk);
      },
      commit: async (size, sha256, blockCrc) => {
        if (this.stallCommits) await this.stall();
        const meta = await w.commit(size, sha256, blockCrc);
        this.commits.push(blobId);
        return meta;
      },
      abort: () => w.abort(),
    };
  }
  putSmall(blobId: string, attributes: Record<string, string>, data: Buffer, sha256: Buffer, crc32?: number): Promise<BlobMeta> {
    return this.disk.putSmall(blobId, attributes, data, sha256, crc32);
  }
  stat(blobId: string): Promise<BlobMeta | null> {
    return this.disk.stat(blobId);
  }
  verify(blobId: string, signal?: AbortSignal): Promise<BlobVerification> {
    return this.disk.verify(blobId, signal);
  }
  delete(blobId: string): Promise<boolean> {
    return this.disk.delete(blobId);
  }
  async *list(): AsyncGenerator<BlobMeta> {
    let sent = 0;
    for await (const meta of this.disk.list()) {
      if (this.stallListAfter !== undefined && sent >= this.stallListAfter) await this.stall();
      sent++;
      yield meta;
    }
  }
  stats(): Promise<NodeStats> {
    return this.disk.stats();
  }

  /**
   * In the disk's own chunks (the tests' small ones), whatever size the blob plane asks for (1 MiB),
   * so that a fault set a few chunks into a blob lands mid-read.
   */
  async read(blobId: string, offset: number, length: number | undefined): Promise<BlobReader> {
    const r = await this.disk.read(blobId, offset, length);
    this.reads.push({ blobId, offset: r.offset });
    return { ...r, chunks: this.faulty(r.chunks) };
  }

  /** Waits until releaseStalls(); then fails, or goes on if told to resume. */
  private stall(): Promise<void> {
    return new Promise<void>((resolve, reject) =>
      this.stalls.add((resume) => (resume ? resolve() : reject(new Error("stalled disk gave up (test fault)")))),
    );
  }

  private async *faulty(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let served = 0;
    for await (const chunk of chunks) {
      if (this.breakReadsAfter !== undefined && served + chunk.length > this.breakReadsAfter)
        throw new Error("disk read failed (test fault)");
      if (this.vanishReadsAfter !== undefined && served + chunk.length > this.vanishReadsAfter)
        throw new NotFoundError("blob was deleted while being read (test fault)");
      if (this.stallReadsAfter !== undefined && served + chunk.length > this.stallReadsAfter) await this.stall();
      served += chunk.length;
      if (!this.corruptReads) yield chunk;
      else {
        const bad = Buffer.from(chunk);
        bad[0] ^= 1;
        yield bad;
      }
    }
  }
}

export interface NodeSpec {
  id: string;
  /** Registered and live, but nothing listens at its address (it died since its last heartbeat). */
  unreachable?: boolean;
  /** Registered and live; its address takes connections and never answers (a black hole past the handshake). */
  silent?: boolean;
  /** Running, but its heartbeat is late: the directory holds it down. */
  late?: boolean;
}

export interface InProcessNodes {
  /** A real NodePool over a real NodeDirectory, whose table rows are the specs. */
  pool: NodePool;
  directory: NodeDirectory;
  backend(id: string): FaultyBackend;
  /** Flips a byte of a large blob's file on node `id`, `at` bytes into its data (the header stays right). */
  corruptFile(id: string, versionId: string, at: number): Promise<void>;
  /** Stops node `id`'s server: its port refuses connections, as a killed node's does. */
  stopServer(id: string): Promise<void>;
  /** Serves node `id` again on the same port and disk (a restart). */
  startServer(id: string): Promise<void>;
  /** Stores `data` as a version on nodes `on` (small whole, large as a file) and returns its catalogue row. */
  store(versionId: string, data: Buffer, on: string[]): Promise<VersionRow>;
  close(): Promise<void>;
}

/** Storage nodes as real gRPC servers on disk backends in this process, for the replica I/O tests. */
export async function startNodes(specs: NodeSpec[], chunkSize: number, clientOptions?: NodeClientOptions): Promise<InProcessNodes> {
  const dir = await tempDir("replicas");
  const running = new Map<string, { backend: FaultyBackend; server: RunningNodeServer }>();
  const tarpit = new Tarpit();
  const rows: Record<string, unknown>[] = [];
  for (const spec of specs) {
    let port: number;
    if (spec.unreachable) port = await unusedPort();
    else if (spec.silent) port = await tarpit.listen();
    else {
      const backend = new FaultyBackend(
        new DiskBackend({ dataDir: `${dir.path}/${spec.id}`, chunkSize, log: silentLog, compactIntervalMs: 0 }),
      );
      await backend.open();
      const server = await startNodeServer(backend, "127.0.0.1", 0, { id: spec.id, chunkSize, log: silentLog });
      running.set(spec.id, { backend, server });
      port = server.port;
    }
    rows.push({
      id: spec.id,
      kind: "storage",
      address: `127.0.0.1:${port}`,
      zone: "",
      state: "up",
      blob_count: 0,
      used_bytes: 0,
      free_bytes: 0,
      hb: Date.now(),
      age_ms: spec.late ? 60_000 : 0,
    });
  }
  const sql = { query: async () => [rows] } as unknown as Pool;
  const directory = new NodeDirectory(sql, 60_000, 10_000, silentLog);
  await directory.refresh();
  const pool = new NodePool(directory, silentLog, clientOptions);
  return {
    pool,
    directory,
    backend: (id) => running.get(id)!.backend,
    stopServer: (id) => running.get(id)!.server.stop(0),
    async startServer(id) {
      const node = running.get(id)!;
      node.server = await startNodeServer(node.backend, "127.0.0.1", node.server.port, { id, chunkSize, log: silentLog });
    },
    corruptFile: (id, versionId, at) => corruptBlobData(`${dir.path}/${id}/blobs/${versionId.slice(-2).padStart(2, "_")}/${versionId}`, at),
    async store(versionId, data, on) {
      const v = versionOf(versionId, data, on);
      const sha256 = Buffer.from(v.sha256, "hex");
      for (const id of on) {
        const disk = running.get(id)!.backend.disk;
        if (data.length <= chunkSize) await disk.putSmall(versionId, {}, data, sha256);
        else {
          const w = await disk.beginWrite(versionId, {});
          await w.write(data);
          await w.commit(data.length, sha256);
        }
      }
      return v;
    },
    async close() {
      pool.close();
      await tarpit.close();
      for (const { backend, server } of running.values()) {
        await server.stop(100);
        await backend.close();
      }
      await dir.remove();
    },
  };
}

/** Listeners that accept connections and never send a byte (gRPC never sees the server's HTTP/2 settings). */
class Tarpit {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();

  async listen(): Promise<number> {
    const s = createServer((socket) => {
      this.sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => this.sockets.delete(socket));
    });
    this.servers.push(s);
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    return (s.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** A port nothing listens on: connecting to it is refused at once. */
async function unusedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** The catalogue's row for `data` stored as version `versionId` on `replicas`. */
export function versionOf(versionId: string, data: Buffer, replicas: string[], row: Partial<VersionRow> = {}): VersionRow {
  return {
    versionId,
    bucket: "b",
    key: versionId,
    size: data.length,
    sha256: createHash("sha256").update(data).digest("hex"),
    etag: "",
    contentType: "application/octet-stream",
    metadata: {},
    state: "live",
    tier: "hot",
    replicas,
    cleanup: [],
    createdMs: 0,
    accessedMs: 0,
    deletedMs: null,
    purgeMs: null,
    reason: null,
    gen: 0,
    requestId: null,
    ...row,
  };
}
