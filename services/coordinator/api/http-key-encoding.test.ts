import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { createHttpFacade } from "./http-facade";
import { MemoryObjectEngine } from "./testing/memory-engine";

// A key whose percent-encoding is malformed (a lone %, %FF, UTF-8 of a surrogate) names no key: the
// facade must refuse it (400) and change nothing. The query parser keeps such a value as its raw text,
// so the request acts on the key spelled by that text, another client's key.

const MAX = 256 * 1024;

let engine: MemoryObjectEngine;
let app: FastifyInstance;
let base: string;

beforeEach(async () => {
  engine = new MemoryObjectEngine({ maxObjectSize: MAX, readChunkSize: 16 * 1024 });
  app = createHttpFacade(engine, engine, { maxObjectSize: MAX });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await app.close();
});

async function retrieve(key: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}/retrieve?key=${encodeURIComponent(key)}`);
  return { status: res.status, text: await res.text() };
}

const MALFORMED = ["%FF", "%ED%A0%80", "a%2", "%C0%AF"];

/** Another client's object, under the key that is literally the malformed text (sent properly encoded). */
async function theirs(malformed: string): Promise<void> {
  const res = await fetch(`${base}/upload?key=${encodeURIComponent(malformed)}`, { method: "POST", body: "their bytes" });
  expect(res.status).toBe(201);
}

test.each(MALFORMED)("an upload to key=%s (malformed percent-encoding) is a 400 and changes no object", async (malformed) => {
  await theirs(malformed);
  const res = await fetch(`${base}/upload?key=${malformed}`, { method: "POST", body: "a malformed request's bytes" });
  expect({ status: res.status, stored: await retrieve(malformed) }).toEqual({ status: 400, stored: { status: 200, text: "their bytes" } });
});

test.each(MALFORMED)("a delete of key=%s (malformed percent-encoding) is a 400 and deletes nothing", async (malformed) => {
  await theirs(malformed);
  const res = await fetch(`${base}/delete?key=${malformed}`, { method: "DELETE" });
  expect({ status: res.status, stored: await retrieve(malformed) }).toEqual({ status: 400, stored: { status: 200, text: "their bytes" } });
});
