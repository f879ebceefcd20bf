import * as http from "node:http";
import { join } from "node:path";
import { DiskBackend } from "../../blobstore/disk-backend";
import { corruptBlobData } from "../../blobstore/testing/corrupt-blob-file";
import { ErrorCode } from "../../common/errors";
import type { BlobReader } from "../blob-backend";
import { BLOB_PATH, CODE_FIELD, OK } from "../blob-plane";
import { NODE_ID_HEADER } from "../node-identity";
import { blobOf, silentLog, tempDir } from "../testing/test-helpers";
import { createBlobHttpServer, PLANE_READ_BYTES } from "./blob-http-server";

// A node's chunked blob-plane GETs stream at most `planeReads` at once (each holds up to three 1 MiB
// chunks); the rest wait in arrival order, a GET whose client leaves while it waits gives up its
// place and closes its file, a read that fails frees its slot, and one that waited its limit
// streams over the cap. Real files (a DiskBackend),
// real HTTP; the backend's readers are watched (and held at their first chunk, `gate`) to see
// which are reading.

const SIZE = 3 * PLANE_READ_BYTES; // three chunks: a GET that takes a slot

let dir: { path: string; remove(): Promise<void> };
let backend: DiskBackend;
const blobs = new Map<string, Buffer>();

/** The readers opened (in order), those that began reading (asked for a chunk) and those closed. */
let opened: string[] = [];
let started: string[] = [];
let closed: string[] = [];
let reading = 0;
let most = 0;
/** While set, a reader's chunks wait for it: the GETs that began reading hold their slots. */
let gate: Promise<void> | undefined;
let openGate = () => {};

function holdGate(): void {
  gate = new Promise<void>((r) => (openGate = r));
}

function releaseGate(): void {
  gate = undefined;
  openGate();
}

/** The reader, its reading counted from its first chunk asked for to its end (any end). */
function watched(id: string, inner: BlobReader): BlobReader {
  const it = inner.chunks[Symbol.asyncIterator]();
  let began = false;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    closed.push(id);
    if (began) reading--;
  };
  const iterator: AsyncIterator<Buffer> = {
    async next() {
      if (!began && !ended) {
        began = true;
        started.push(id);
        most = Math.max(most, ++reading);
      }
      try {
        await gate;
        const r = await it.next();
        if (r.done) end();
        return r;
      } catch (e) {
        end();
        throw e;
      }
    },
    async return() {
      end();
      await it.return?.();
      return { done: true, value: undefined };
    },
  };
  return { ...inner, chunks: { [Symbol.asyncIterator]: () => iterator } };
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!ok()) throw new Error(`not seen within 5 s: ${what} (opened ${opened}, started ${started}, closed ${closed})`);
}

async function withServer(planeReads: number, fn: (port: number) => Promise<void>, planeReadWaitMs = 60_000): Promise<void> {
  const server = createBlobHttpServer(backend, { id: "n1", log: silentLog, planeReads, planeReadWaitMs });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    await fn((server.address() as { port: number }).port);
  } finally {
    releaseGate();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

interface Got {
  body: Buffer;
  code: string | undefined;
}

/** A GET of the whole blob on a connection of its own; `sent` gets its request (to cut it). */
function get(port: number, id: string, sent?: (req: http.ClientRequest) => void): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: "127.0.0.1", port, path: `${BLOB_PATH}${id}`, agent: false, headers: { [NODE_ID_HEADER]: "n1" } },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () => resolve({ body: Buffer.concat(parts), code: res.trailers[CODE_FIELD] }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    sent?.(req);
  });
}

function expectWhole(got: Got, id: string): void {
  expect(got.code).toBe(OK);
  expect(got.body.length).toBe(SIZE);
  expect(got.body.equals(blobs.get(id)!)).toBe(true);
}

/** Two GETs at once with the cap at 1: one reads while the other waits; both get their bytes. */
async function oneAtATime(port: number, a: string, b: string): Promise<void> {
  const before = opened.length;
  holdGate();
  const gets = [get(port, a), get(port, b)];
  await until(`${a} and ${b} open, one reading`, () => opened.length === before + 2 && reading === 1);
  releaseGate();
  const [ga, gb] = await Promise.all(gets);
  expectWhole(ga, a);
  expectWhole(gb, b);
}

async function store(id: string): Promise<void> {
  const { data, sha256 } = blobOf(SIZE);
  const w = await backend.beginWrite(id, {});
  await w.write(data);
  await w.commit(data.length, sha256);
  blobs.set(id, data);
}

beforeAll(async () => {
  dir = await tempDir("plane-reads");
  backend = new DiskBackend({ dataDir: dir.path, chunkSize: 64 * 1024, log: silentLog, compactIntervalMs: 0 });
  await backend.open();
  for (const id of ["b0", "b1", "b2", "b3", "b4", "bad-first", "bad-second"]) await store(id);
  // A flipped bit in the first chunk (nothing sent yet) and in the second (after a chunk went out).
  const pathOf = (id: string) => join(dir.path, "blobs", id.slice(-2), id);
  await corruptBlobData(pathOf("bad-first"), 1000);
  await corruptBlobData(pathOf("bad-second"), PLANE_READ_BYTES + 1000);
  const read = backend.read.bind(backend);
  backend.read = async (id, offset, length, chunkBytes) => {
    const r = watched(id, await read(id, offset, length, chunkBytes));
    opened.push(id);
    return r;
  };
});

beforeEach(() => {
  opened = [];
  started = [];
  closed = [];
  reading = 0;
  most = 0;
});

afterAll(async () => {
  await backend.close();
  await dir.remove();
});

test("with the cap at 2, 5 GETs at once: 2 read at a time, the rest wait in arrival order, all get their bytes", async () => {
  await withServer(2, async (port) => {
    holdGate();
    const ids = ["b0", "b1", "b2", "b3", "b4"];
    const gets = ids.map((id) => get(port, id));
    await until("5 readers open, 2 reading", () => opened.length === 5 && reading === 2);
    releaseGate();
    const got = await Promise.all(gets);
    got.forEach((g, i) => expectWhole(g, ids[i]));
    expect(most).toBe(2);
    expect(started).toEqual(opened); // first come, first served
    expect(closed.length).toBe(5);
  });
});

test("a GET whose client leaves while it waits closes its file, takes no slot, and the next one proceeds", async () => {
  await withServer(1, async (port) => {
    holdGate();
    const first = get(port, "b0");
    await until("b0 reading", () => reading === 1 && started.includes("b0"));
    let cut: http.ClientRequest | undefined;
    const left = get(port, "b1", (req) => (cut = req)).catch(() => "left");
    await until("b1 open and waiting", () => opened.includes("b1"));
    cut!.destroy();
    expect(await left).toBe("left");
    // Its reader closed while b0 still holds the only slot: it did not wait for a slot to leave.
    await until("b1 closed", () => closed.includes("b1"));
    expect(started).toEqual(["b0"]);
    // It freed no slot it did not hold: the next two still wait for b0.
    const next = [get(port, "b2"), get(port, "b3")];
    await until("b2 and b3 open", () => opened.includes("b2") && opened.includes("b3"));
    await new Promise((r) => setTimeout(r, 50));
    expect(started).toEqual(["b0"]);
    releaseGate();
    expectWhole(await first, "b0");
    const [b2, b3] = await Promise.all(next);
    expectWhole(b2, "b2");
    expectWhole(b3, "b3");
    expect(started).toEqual(["b0", ...opened.filter((id) => id === "b2" || id === "b3")]); // in the order they came
    expect(most).toBe(1);
  });
});

test("a read that fails on a corrupt block frees its slot; the cap still holds after", async () => {
  await withServer(1, async (port) => {
    for (const id of ["bad-first", "bad-second"]) {
      const bad = await get(port, id);
      expect(bad.code).toBe(ErrorCode.IntegrityError);
      expect(bad.body.length).toBe(id === "bad-first" ? 0 : PLANE_READ_BYTES);
    }
    expect(closed).toEqual(["bad-first", "bad-second"]);
    most = 0;
    await oneAtATime(port, "b0", "b1");
    expect(most).toBe(1);
  });
});

test("a GET that waited its limit streams over the cap, and its end frees no slot it did not take", async () => {
  await withServer(
    1,
    async (port) => {
      holdGate();
      const first = get(port, "b0"); // held at its first chunk: the slot stays taken
      await until("b0 reading", () => started.includes("b0"));
      const over = get(port, "b1");
      await until("b1 reading beside b0", () => started.includes("b1"));
      expect(closed).toEqual([]);
      releaseGate();
      expectWhole(await first, "b0");
      expectWhole(await over, "b1");
      // The one slot is free again, and only one: of two more, one reads while the other waits.
      await oneAtATime(port, "b2", "b3");
    },
    2000,
  );
});
