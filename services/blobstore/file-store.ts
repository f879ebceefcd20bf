import { createHash, randomBytes, type Hash } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "../common/crc32";
import { IntegrityError, InvalidArgumentError, NotFoundError } from "../common/errors";
import type { BlobMeta, BlobReader, BlobWriter, WireCheck } from "../rpc/blob-backend";
import { BlockChecksums } from "../rpc/block-checksums";
import { clampRange, isValidBlobId } from "../rpc/blob-info";
import { bodyLength, CHECK_BLOCK, checkBlocks, encodeHeader, readHeader, sealFields, type BlobFileHeader } from "./blob-file-format";
import { allocChunk } from "../rpc/wire/blob-stream-codec";
import { FlushBehind } from "./flush-behind";
import { fsyncDir } from "./fsync-dir";
import { readUpTo } from "./read-up-to";
import { AlignedSlabs, alignDown, alignUp, DIRECT_ALIGN } from "./aligned-slabs";

/**
 * Large blobs' bytes go to and come from the disk with O_DIRECT, staged through aligned slabs, not
 * through the page cache. On this VM a page the page cache takes is often one the guest gave back
 * to its host, and filling it faults: 256 MiB written buffered cost 370-710 ms of system CPU, with
 * O_DIRECT 17-33 ms (the copy into the slab a few more); read back cold, 477 against 22 ms
 * (2026-12-04, bench/README.md "Large blobs with O_DIRECT"). A storage node writes every byte of
 * a large upload twice over (RF 2) and keeps it, so the page cache was where most of a replica's
 * CPU went (perf: copy_folio_from_iter_atomic, 52 % of a node's samples on a 64 MiB upload).
 * SLAB_BYTES: the 1 MiB chunks the blob plane reads, plus the two partial pages around an
 * unaligned range. A write or read that finds no slab free, or a filesystem without O_DIRECT
 * (tmpfs, macOS), goes through the page cache as before.
 */
const SLAB_BYTES = 1024 * 1024 + 2 * DIRECT_ALIGN;
export const SLABS = 16;
const O_DIRECT = fsConstants.O_DIRECT as number | undefined;

/** One pool per process, made when the first store wants it (a node has one store). */
let processSlabs: AlignedSlabs | undefined;

/**
 * Large blobs as files: written to tmp/, fsynced, renamed into blobs/<shard>/<id>, and the
 * directory fsynced, so a blob is visible whole or not at all. Meta sits in the file's header.
 */
export class FileStore {
  private readonly blobsDir: string;
  private readonly tmpDir: string;
  private readonly knownShards = new Set<string>();
  /** Shards whose directory fsync after a removal failed (delete). */
  private readonly unsyncedShards = new Set<string>();
  private count = 0;
  private bytes = 0;
  /** Aligned memory for O_DIRECT; undefined once the filesystem refused it (or asked not to). */
  private slabs: AlignedSlabs | undefined;

  constructor(
    root: string,
    private readonly chunkSize: number,
    opts: { directIo?: boolean } = {},
  ) {
    this.blobsDir = join(root, "blobs");
    this.tmpDir = join(root, "tmp");
    if (opts.directIo !== false && O_DIRECT !== undefined) this.slabs = processSlabs ??= new AlignedSlabs(SLABS, SLAB_BYTES);
  }

  /** Whether large blobs still go around the page cache (false once the filesystem refused it). */
  get directIo(): boolean {
    return this.slabs !== undefined;
  }

  /** Slabs of the process's pool not held by a write or read in progress (all of them when none is). */
  get slabsFree(): number {
    return this.slabs?.available ?? 0;
  }

  /**
   * Whether a page written and read back with O_DIRECT in tmp/ comes back as written: some
   * filesystems take the flag at open and refuse the I/O, or have no O_DIRECT at all (ramfs; tmpfs
   * before Linux 6.6).
   */
  private async directWorks(): Promise<boolean> {
    const probe = await this.openDirect(join(this.tmpDir, "direct-probe"), fsConstants.O_RDWR | fsConstants.O_CREAT);
    if (!probe) return false;
    const page = probe.slab.subarray(0, DIRECT_ALIGN);
    try {
      page.fill(0x5a);
      await probe.fd.write(page, 0, DIRECT_ALIGN, 0);
      page.fill(0);
      const { bytesRead } = await probe.fd.read(page, 0, DIRECT_ALIGN, 0);
      return bytesRead === DIRECT_ALIGN && page.every((b) => b === 0x5a);
    } catch {
      return false;
    } finally {
      await releaseDirect(probe);
      await unlink(join(this.tmpDir, "direct-probe")).catch(() => undefined);
    }
  }

  /**
   * A second descriptor of `path` with O_DIRECT and a slab to go with it, or undefined: no slab
   * free, or the open failed (EINVAL: no O_DIRECT on this filesystem, then never again); the
   * caller then goes through the page cache.
   */
  private async openDirect(path: string, flags: number): Promise<DirectFile | undefined> {
    const pool = this.slabs;
    const slab = pool?.take();
    if (!pool || !slab) return undefined;
    try {
      return { fd: await open(path, flags | O_DIRECT!), slab, pool };
    } catch (e) {
      pool.give(slab);
      if ((e as NodeJS.ErrnoException).code === "EINVAL") this.slabs = undefined;
      return undefined;
    }
  }

  /** Clears temp files left by a crash or an abort, and counts what is stored. */
  async open(): Promise<void> {
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true });
    await mkdir(this.blobsDir, { recursive: true });
    if (this.slabs && !(await this.directWorks())) this.slabs = undefined;
    this.count = 0;
    this.bytes = 0;
    for (const shard of await readdir(this.blobsDir)) {
      this.knownShards.add(shard);
      for (const name of await readdir(join(this.blobsDir, shard))) {
        const st = await stat(join(this.blobsDir, shard, name)).catch(() => undefined);
        if (!st?.isFile()) continue;
        this.count++;
        this.bytes += st.size;
      }
    }
  }

  stats(): { blobCount: number; usedBytes: number } {
    return { blobCount: this.count, usedBytes: this.bytes };
  }

  async beginWrite(blobId: string, attributes: Record<string, string>, check: WireCheck = "sha256"): Promise<BlobWriter> {
    checkId(blobId);
    const tmpPath = join(this.tmpDir, `${blobId}.${randomBytes(6).toString("hex")}.tmp`);
    const fd = await open(tmpPath, "wx");
    const header = encodeHeader(attributes);
    let sink: FileSink;
    try {
      const direct = await this.openDirect(tmpPath, fsConstants.O_WRONLY);
      if (direct) sink = new DirectSink(direct, header);
      else {
        await fd.write(header, 0, header.length, 0);
        sink = new BufferedSink(fd);
      }
    } catch (e) {
      await fd.close().catch(() => undefined);
      await unlink(tmpPath).catch(() => undefined);
      throw e;
    }
    return new FileBlobWriter(
      this,
      fd,
      sink,
      tmpPath,
      blobId,
      attributes,
      header.length,
      check === "sha256" ? createHash("sha256") : undefined,
    );
  }

  /** Moves a finished temp file into place (called by the writer once it is synced). */
  async publish(tmpPath: string, blobId: string, fileSize: number): Promise<void> {
    const shard = shardOf(blobId);
    const dir = join(this.blobsDir, shard);
    if (!this.knownShards.has(shard)) {
      await mkdir(dir, { recursive: true });
      await fsyncDir(this.blobsDir);
      this.knownShards.add(shard);
    }
    const target = join(dir, blobId);
    const previous = await stat(target).catch(() => undefined);
    await rename(tmpPath, target);
    // Counted as soon as it is in place: a directory fsync that fails next fails the write, but the
    // file stays (until a retry replaces it or a delete removes it), and the counts follow the files.
    if (previous) this.bytes -= previous.size;
    else this.count++;
    this.bytes += fileSize;
    await fsyncDir(dir);
  }

  /**
   * A range's bytes, each block checked before it is handed out. `checkDigest`: a whole read of a
   * file with block checksums is hashed against its stored sha256 as well (verify does; a read
   * need not, see fileChunks). `chunkBytes`: the chunks' size (whole check blocks), the store's
   * chunk size by default.
   */
  async read(
    blobId: string,
    offset: number,
    length: number | undefined,
    checkDigest = false,
    chunkBytes = this.chunkSize,
  ): Promise<BlobReader> {
    checkId(blobId);
    const fd = await this.openBlob(blobId);
    let direct: DirectFile | undefined;
    try {
      const h = await readHeader(fd, blobId);
      const st = await fd.stat();
      if (st.size !== h.headerLength + bodyLength(h))
        throw new IntegrityError(`blob ${blobId} is ${st.size - h.headerLength} bytes on disk, expected ${bodyLength(h)}`);
      const meta: BlobMeta = { blobId, size: h.size, sha256: h.sha256, storedAtMs: h.storedAtMs, attributes: h.attributes };
      const range = clampRange(h.size, offset, length);
      const hashed = range.offset === 0 && range.length === h.size && (checkDigest || !h.blockChecksums);
      // The same file as `fd`, even if the blob was replaced or deleted since it was opened.
      if (range.length > 0) direct = await this.openDirect(sameFile(fd, this.pathOf(blobId)), fsConstants.O_RDONLY);
      return { meta, ...range, ...(await fileChunks(fd, h, meta, range, chunkBytes, hashed, direct)) };
    } catch (e) {
      await fd.close().catch(() => undefined);
      if (direct) await releaseDirect(direct);
      throw e;
    }
  }

  async stat(blobId: string): Promise<BlobMeta | null> {
    checkId(blobId);
    let fd: FileHandle;
    try {
      fd = await this.openBlob(blobId);
    } catch (e) {
      if (e instanceof NotFoundError) return null;
      throw e;
    }
    try {
      const h = await readHeader(fd, blobId);
      return { blobId, size: h.size, sha256: h.sha256, storedAtMs: h.storedAtMs, attributes: h.attributes };
    } finally {
      await fd.close();
    }
  }

  async delete(blobId: string): Promise<boolean> {
    checkId(blobId);
    const shard = shardOf(blobId);
    const dir = join(this.blobsDir, shard);
    const path = this.pathOf(blobId);
    const st = await stat(path).catch(() => undefined);
    try {
      await unlink(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      // A removal whose directory fsync failed is made durable by the retry: answered "none" without
      // the sync, a crash could still bring the file back.
      if (this.unsyncedShards.delete(shard)) await this.syncShard(shard, dir);
      return false;
    }
    // The file is gone from the directory: counted out even if the sync fails.
    this.count--;
    this.bytes -= st?.size ?? 0;
    await this.syncShard(shard, dir);
    return true;
  }

  /** fsyncs a shard's directory after a removal; one that fails is tried again by the next delete finding ENOENT there. */
  private async syncShard(shard: string, dir: string): Promise<void> {
    try {
      await fsyncDir(dir);
    } catch (e) {
      this.unsyncedShards.add(shard);
      throw e;
    }
  }

  async *list(): AsyncIterable<BlobMeta> {
    for (const shard of await readdir(this.blobsDir)) {
      const names = await readdir(join(this.blobsDir, shard)).catch(() => [] as string[]);
      for (const name of names) {
        const meta = await this.stat(name).catch(() => null); // a corrupt file is left for the scrubber
        if (meta) yield meta;
      }
    }
  }

  private pathOf(blobId: string): string {
    return join(this.blobsDir, shardOf(blobId), blobId);
  }

  private async openBlob(blobId: string): Promise<FileHandle> {
    try {
      return await open(this.pathOf(blobId), "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`blob ${blobId} not found`);
      throw e;
    }
  }
}

function checkId(blobId: string): void {
  if (!isValidBlobId(blobId)) throw new InvalidArgumentError(`bad blob id "${blobId}"`);
}

/** Version ids start with a timestamp: their last two characters (random) spread files evenly. */
function shardOf(blobId: string): string {
  return blobId.slice(-2).padStart(2, "_");
}

/** Bytes written between the datasyncs a large write starts on its way (flush-behind.ts). */
const FLUSH_BEHIND_BYTES = 8 * 1024 * 1024;

/** Where a writer's bytes go after the header: through the page cache, or straight to the disk. */
interface FileSink {
  /** `bufs` at file offset `position`, each call right after the last. */
  append(bufs: readonly Buffer[], position: number): Promise<void>;
  /** Everything appended is in the file, which is `end` bytes long; the caller then seals and syncs. */
  finish(end: number): Promise<void>;
  /** Lets go of what it holds, once no write of its own is in flight (after finish, or on abort). */
  release(): Promise<void>;
}

class BufferedSink implements FileSink {
  private readonly flush: FlushBehind;

  constructor(private readonly fd: FileHandle) {
    this.flush = new FlushBehind(fd, FLUSH_BEHIND_BYTES);
  }

  async append(bufs: readonly Buffer[], position: number): Promise<void> {
    await (bufs.length === 1 ? writeAll(this.fd, bufs[0], position) : writevAll(this.fd, bufs, position));
    this.flush.wrote(position + bufs.reduce((n, b) => n + b.length, 0));
  }

  finish(): Promise<void> {
    return this.flush.settle();
  }

  release(): Promise<void> {
    return this.flush.idle();
  }
}

/**
 * Bytes copied into an aligned slab that is written with O_DIRECT each time it fills (at aligned
 * offsets, in whole slabs); the last, partial one padded to a whole page, the file then cut to its
 * length. The slab starts with the header, so the file's first page goes the same way.
 */
class DirectSink implements FileSink {
  /** File offset of the slab's first byte, and how much of it is filled. */
  private base = 0;
  private filled: number;
  private writing?: Promise<void>;
  private released = false;

  private readonly fd: FileHandle;
  private readonly slab: Buffer;
  private readonly flush: FlushBehind;

  constructor(
    private readonly direct: DirectFile,
    header: Buffer,
  ) {
    ({ fd: this.fd, slab: this.slab } = direct);
    this.filled = header.copy(this.slab, 0);
    this.flush = new FlushBehind(this.fd, FLUSH_BEHIND_BYTES);
  }

  async append(bufs: readonly Buffer[]): Promise<void> {
    for (const buf of bufs) {
      for (let at = 0; at < buf.length;) {
        if (this.released) throw new InvalidArgumentError("write after abort"); // the slab is no longer ours
        const n = buf.copy(this.slab, this.filled, at);
        this.filled += n;
        at += n;
        if (this.filled === this.slab.length) await this.write(this.slab.length);
      }
    }
  }

  async finish(end: number): Promise<void> {
    if (this.filled > 0) {
      const padded = alignUp(this.filled);
      this.slab.fill(0, this.filled, padded);
      await this.write(padded);
    }
    await this.flush.settle();
    await this.fd.truncate(end);
  }

  private async write(bytes: number): Promise<void> {
    this.writing = writeAll(this.fd, this.slab.subarray(0, bytes), this.base);
    await this.writing;
    this.writing = undefined;
    this.base += bytes;
    this.filled = 0;
    this.flush.wrote(this.base);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.writing?.catch(() => undefined); // the disk may still be reading the slab
    await this.flush.idle(); // the descriptor closes with the slab's release
    await releaseDirect(this.direct);
  }
}

/**
 * `hash`: the sha256 of the bytes as they come, checked against the sender's at commit; without it
 * (a "blockCrc" write) the fold of the block crc32s is checked instead and the sender's sha256 kept.
 */
class FileBlobWriter implements BlobWriter {
  private readonly blocks = new BlockChecksums(crc32, CHECK_BLOCK);
  private position: number;
  private state: "open" | "done" = "open";

  constructor(
    private readonly store: FileStore,
    private readonly fd: FileHandle,
    private readonly sink: FileSink,
    private readonly tmpPath: string,
    private readonly blobId: string,
    private readonly attributes: Record<string, string>,
    private readonly headerLength: number,
    private readonly hash: Hash | undefined,
  ) {
    this.position = headerLength;
  }

  write(chunk: Buffer): Promise<void> {
    return this.writev([chunk]);
  }

  async writev(chunks: readonly Buffer[]): Promise<void> {
    if (this.state !== "open") throw new InvalidArgumentError("write after commit or abort");
    let bytes = 0;
    for (const chunk of chunks) {
      this.hash?.update(chunk);
      this.blocks.update(chunk);
      bytes += chunk.length;
    }
    await this.sink.append(chunks, this.position);
    this.position += bytes;
  }

  async commit(expectedSize: number, expectedSha256: Buffer, expectedBlockCrc?: number): Promise<BlobMeta> {
    if (this.state !== "open") throw new InvalidArgumentError("commit after commit or abort");
    this.state = "done";
    try {
      const size = this.position - this.headerLength;
      if (size !== expectedSize) throw new IntegrityError(`blob ${this.blobId}: got ${size} bytes, sender said ${expectedSize}`);
      const table = this.blocks.table();
      let sha256 = expectedSha256;
      if (this.hash) {
        sha256 = this.hash.digest();
        if (!sha256.equals(expectedSha256)) throw new IntegrityError(`blob ${this.blobId}: sha256 does not match the sender's`);
      } else {
        if (expectedBlockCrc === undefined) throw new InvalidArgumentError(`blob ${this.blobId}: the sender gave no block crc32 to check`);
        if (this.blocks.fold(table) !== expectedBlockCrc)
          throw new IntegrityError(`blob ${this.blobId}: block crc32s do not match the sender's`);
        if (expectedSha256.length !== 32) throw new InvalidArgumentError(`blob ${this.blobId}: the sender's sha256 is not 32 bytes`);
      }
      const storedAtMs = Date.now();
      await this.sink.append([table], this.position);
      const end = this.position + table.length;
      await this.sink.finish(end);
      await this.sink.release();
      const seal = sealFields(size, storedAtMs, sha256);
      await this.fd.write(seal.bytes, 0, seal.bytes.length, seal.position);
      await this.fd.sync();
      await this.fd.close();
      await this.store.publish(this.tmpPath, this.blobId, end);
      return { blobId: this.blobId, size, sha256, storedAtMs, attributes: this.attributes };
    } catch (e) {
      await this.sink.release();
      await this.fd.close().catch(() => undefined);
      await unlink(this.tmpPath).catch(() => undefined);
      throw e;
    }
  }

  async abort(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "done";
    await this.sink.release();
    await this.fd.close().catch(() => undefined);
    await unlink(this.tmpPath).catch(() => undefined);
  }
}

async function writeAll(fd: FileHandle, buf: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buf.length;) {
    const { bytesWritten } = await fd.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

/** `bufs` in order from `position` (one pwritev; the rest again after a short write). */
async function writevAll(fd: FileHandle, bufs: readonly Buffer[], position: number): Promise<void> {
  const left = [...bufs];
  for (;;) {
    let { bytesWritten } = await fd.writev(left, position);
    position += bytesWritten;
    while (left.length > 0 && bytesWritten >= left[0].length) bytesWritten -= left.shift()!.length;
    if (left.length === 0) return;
    left[0] = left[0].subarray(bytesWritten);
  }
}

/** A path that opens the file `fd` has open (Linux's /proc/self/fd), else the file's own path. */
function sameFile(fd: FileHandle, path: string): string {
  return process.platform === "linux" ? `/proc/self/fd/${fd.fd}` : path;
}

/** An O_DIRECT descriptor with the slab its I/O goes through, and the pool the slab goes back to. */
interface DirectFile {
  fd: FileHandle;
  slab: Buffer;
  pool: AlignedSlabs;
}

async function releaseDirect(d: DirectFile): Promise<void> {
  await d.fd.close().catch(() => undefined);
  d.pool.give(d.slab);
}

/**
 * Fills `buf` from `position` through O_DIRECT: the whole pages around the range into the slab,
 * then copied out (a copy of memory in cache, against a page-cache page faulted per 4 KiB). False,
 * with nothing read, when those pages do not fit the slab.
 */
async function readDirect(d: DirectFile, buf: Buffer, position: number, name: string): Promise<boolean> {
  const from = alignDown(position);
  const need = position + buf.length - from;
  const span = alignUp(need);
  if (span > d.slab.length) return false;
  let got = 0;
  while (got < need) {
    // Past the end of the file a read comes back short; a short read elsewhere leaves an unaligned
    // offset O_DIRECT cannot continue from: either way the file is shorter than its header says.
    if (got % DIRECT_ALIGN !== 0) throw new IntegrityError(`blob ${name} is truncated`);
    const { bytesRead } = await d.fd.read(d.slab, got, span - got, from + got);
    if (bytesRead === 0) throw new IntegrityError(`blob ${name} is truncated`);
    got += bytesRead;
  }
  d.slab.copy(buf, 0, position - from, need);
  return true;
}

/** Fills `buf` from `position`; IntegrityError if the file ends first. */
async function readFully(fd: FileHandle, buf: Buffer, position: number, name: string): Promise<void> {
  if ((await readUpTo(fd, buf, position)) < buf.length) throw new IntegrityError(`blob ${name} is truncated`);
}

/**
 * The bytes of a range as chunks. An explicit iterator rather than a generator, so that return()
 * closes the file even when the consumer stops before the first chunk.
 *
 * Two checks, so that no bad byte leaves the node as part of a good-looking read:
 * - with block checksums (version 2 files), whole blocks are read and each is checked before any
 *   byte of it is handed out, whatever the range;
 * - a `hashed` read (a whole read of a version 1 file, for which it is the only check, or verify's)
 *   also hashes the blob, and hands out its last chunk only once the sha256 matches: a mismatch
 *   errors the stream in its place, so a corrupt blob never leaves the node complete (review
 *   finding 3: a reader that got every byte before the check failed served a clean, wrong body).
 * A whole read of a version 2 file is not hashed: its crc32s were taken from the very bytes whose
 * sha256 matched the sender's at the write, and every block is checked before it goes out, so the
 * sha256 would check them twice; it was ~0.6 of the serving node's ~2 ms of CPU per MiB read.
 */
/**
 * Chunks handed back (BlobReader.recycle) kept for the next reads: with read-ahead a socket consumer
 * holds three in turn (one in the socket, one being sent, one being read).
 */
const SPARE_CHUNKS = 2;

async function fileChunks(
  fd: FileHandle,
  h: BlobFileHeader,
  meta: BlobMeta,
  range: { offset: number; length: number },
  chunkSize: number,
  hashed: boolean,
  direct: DirectFile | undefined,
): Promise<Pick<BlobReader, "chunks" | "recycle" | "blockCrc" | "blockTable">> {
  const name = meta.blobId;
  const hash = hashed ? createHash("sha256") : undefined;
  const end = range.offset + range.length;
  // With checksums, reads cover whole blocks, in chunks of whole blocks.
  const blocks = h.blockChecksums && range.length > 0;
  let position = blocks ? Math.floor(range.offset / CHECK_BLOCK) * CHECK_BLOCK : range.offset;
  const readEnd = blocks ? Math.min(h.size, Math.ceil(end / CHECK_BLOCK) * CHECK_BLOCK) : end;
  const step = blocks ? Math.max(CHECK_BLOCK, Math.floor(chunkSize / CHECK_BLOCK) * CHECK_BLOCK) : chunkSize;
  const firstBlock = position / CHECK_BLOCK;
  let table = Buffer.alloc(0);
  if (blocks) {
    table = Buffer.alloc((Math.ceil(readEnd / CHECK_BLOCK) - firstBlock) * 4);
    await readFully(fd, table, h.headerLength + h.size + firstBlock * 4, name);
  }
  // Read-ahead: the next chunk is read from the file while this one is checked and sent. Reading
  // only once the previous chunk had left took turns with the socket: of a 64 MiB read's ~400 ms on
  // the node, ~200 ms waited for file reads and checks and ~200 ms for the socket (2026-12-02).
  // Memory: one chunk more per read.
  let ahead: Promise<Buffer> | undefined;
  // Whole chunks handed out, and those the consumer handed back (recycle) to be read into again.
  const lent = new WeakSet<Buffer>();
  const spare: Buffer[] = [];
  let reading: Promise<boolean> | undefined; // the O_DIRECT read in flight, if any (close waits for it)
  const readAt = async (at: number): Promise<Buffer> => {
    const n = Math.min(step, readEnd - at);
    const buf = (n === step ? spare.pop() : undefined) ?? allocChunk(n); // read straight into the message ReadBlob will send
    reading = direct && readDirect(direct, buf, h.headerLength + at, name);
    if (!(await reading)) await readFully(fd, buf, h.headerLength + at, name);
    return buf;
  };
  const recycle = (chunk: Buffer) => {
    if (lent.delete(chunk) && !closed && spare.length < SPARE_CHUNKS) spare.push(chunk);
  };
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    const pending = ahead;
    ahead = undefined;
    await pending?.catch(() => undefined); // the file stays open until its last read is back
    await reading?.catch(() => undefined);
    await fd.close().catch(() => undefined);
    if (direct) await releaseDirect(direct);
  };
  const iterator: AsyncIterator<Buffer> = {
    async next() {
      if (closed) return { done: true, value: undefined };
      try {
        if (position >= readEnd) {
          // An empty blob has no last chunk to hold back: its hash is checked here.
          if (hash && range.length === 0 && !hash.digest().equals(meta.sha256))
            throw new IntegrityError(`blob ${name} failed its sha256 check`);
          await close();
          return { done: true, value: undefined };
        }
        const want = Math.min(step, readEnd - position);
        const buf = await (ahead ?? readAt(position));
        ahead = undefined;
        if (!closed && position + want < readEnd) {
          ahead = readAt(position + want);
          ahead.catch(() => undefined); // awaited by the next call or by close()
        }
        if (blocks) checkBlocks(name, buf, position / CHECK_BLOCK, table, firstBlock);
        // Only the first and last chunks of a range that is not block-aligned are cut (and copied when sent).
        const from = Math.max(range.offset, position) - position;
        const to = Math.min(end, position + want) - position;
        const chunk = from === 0 && to === want ? buf : buf.subarray(from, to);
        if (chunk === buf && buf.length === step) lent.add(buf);
        position += want;
        hash?.update(chunk);
        if (hash && position >= readEnd && !hash.digest().equals(meta.sha256))
          throw new IntegrityError(`blob ${name} failed its sha256 check`);
        return { done: false, value: chunk };
      } catch (e) {
        await close();
        throw e;
      }
    },
    async return() {
      await close();
      return { done: true, value: undefined };
    },
  };
  // A whole read has the whole table: its fold (BlockChecksums.fold, the crc32 of the table) is
  // what a copy's target checks its bytes by (BlobReader.blockCrc), the table what a compose folds.
  const whole = blocks && range.offset === 0 && range.length === h.size;
  return {
    chunks: { [Symbol.asyncIterator]: () => iterator },
    recycle,
    ...(whole ? { blockCrc: crc32(table), blockTable: table } : {}),
  };
}
