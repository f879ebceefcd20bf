import { randomBytes } from "node:crypto";
import { ReadBlobResponse, WriteBlobRequest } from "../gen/minis3/v1/node";
import {
  decodeReadBlobResponse,
  decodeWriteBlobRequest,
  encodeReadBlobResponse,
  encodeWriteBlobRequest,
  joinAsChunk,
  allocChunk,
} from "./blob-stream-codec";

describe("blob stream codec", () => {
  const sizes = [0, 1, 127, 128, 16_383, 16_384, 256 * 1024, 1024 * 1024 + 3];

  it.each(sizes)("encodes a %d-byte chunk exactly as ts-proto does, and decodes both ways", (n) => {
    const data = randomBytes(n);
    const w: WriteBlobRequest = { part: { $case: "chunk", value: data } };
    const ours = encodeWriteBlobRequest(w);
    expect(ours.equals(Buffer.from(WriteBlobRequest.encode(w).finish()))).toBe(true);
    expect(decodeWriteBlobRequest(ours)).toEqual(WriteBlobRequest.decode(ours));
    const r: ReadBlobResponse = { part: { $case: "chunk", value: data } };
    const ourR = encodeReadBlobResponse(r);
    expect(ourR.equals(Buffer.from(ReadBlobResponse.encode(r).finish()))).toBe(true);
    expect((decodeReadBlobResponse(ourR).part as { value: Buffer }).value.equals(data)).toBe(true);
  });

  it("passes headers, trailers and infos through ts-proto", () => {
    const header: WriteBlobRequest = { part: { $case: "header", value: { blobId: "abc", attributes: { k: "v" } } } };
    const trailer: WriteBlobRequest = { part: { $case: "trailer", value: { size: 5, sha256: randomBytes(32) } } };
    for (const m of [header, trailer]) expect(decodeWriteBlobRequest(encodeWriteBlobRequest(m))).toEqual(m);
    const info: ReadBlobResponse = {
      part: { $case: "info", value: { blobId: "abc", size: 9, sha256: randomBytes(32), storedAtMs: 5, attributes: {} } },
    };
    expect(decodeReadBlobResponse(encodeReadBlobResponse(info))).toEqual(info);
  });

  it("joins pieces into a chunk whose encoding is already made", () => {
    const pieces = [randomBytes(100), randomBytes(70_000), randomBytes(3)];
    const chunk = joinAsChunk(pieces, 70_103);
    expect(chunk.equals(Buffer.concat(pieces))).toBe(true);
    const m: WriteBlobRequest = { part: { $case: "chunk", value: chunk } };
    expect(encodeWriteBlobRequest(m).equals(Buffer.from(WriteBlobRequest.encode(m).finish()))).toBe(true);
    expect(encodeWriteBlobRequest(m).buffer).toBe(chunk.buffer); // no copy
  });

  it("sends a chunk read into allocChunk's buffer without a copy, and a part of one with a correct copy", () => {
    const chunk = allocChunk(300_000);
    randomBytes(300_000).copy(chunk);
    const whole: ReadBlobResponse = { part: { $case: "chunk", value: chunk } };
    expect(encodeReadBlobResponse(whole).equals(Buffer.from(ReadBlobResponse.encode(whole).finish()))).toBe(true);
    expect(encodeReadBlobResponse(whole).buffer).toBe(chunk.buffer);
    const short: ReadBlobResponse = { part: { $case: "chunk", value: chunk.subarray(0, 1000) } }; // a short read
    expect(encodeReadBlobResponse(short).equals(Buffer.from(ReadBlobResponse.encode(short).finish()))).toBe(true);
  });

  it("refills a chunk of its own of the same length, encoding included, and allocates for any other", () => {
    const first = joinAsChunk([randomBytes(1000)], 1000);
    const pieces = [randomBytes(400), randomBytes(600)];
    const again = joinAsChunk(pieces, 1000, first);
    expect(again).toBe(first);
    expect(again.equals(Buffer.concat(pieces))).toBe(true);
    const m: WriteBlobRequest = { part: { $case: "chunk", value: again } };
    expect(encodeWriteBlobRequest(m).equals(Buffer.from(WriteBlobRequest.encode(m).finish()))).toBe(true);
    expect(joinAsChunk(pieces, 1000, Buffer.alloc(1000))).not.toBe(first); // not laid out by allocChunk
    expect(joinAsChunk([pieces[0]], 400, first).length).toBe(400); // another length
  });

  it("encodes a chunk sent to several replicas once", () => {
    const data = randomBytes(1000);
    const m: WriteBlobRequest = { part: { $case: "chunk", value: data } };
    expect(encodeWriteBlobRequest(m)).toBe(encodeWriteBlobRequest({ part: { $case: "chunk", value: data } }));
  });
});
