import { BatchRequest, BatchResponse, type PutSmallBlob } from "../gen/minis3/v1/node";
import { decodeBatchRequest, decodeBatchResponse, encodeBatchRequest, encodeBatchResponse } from "./exchange-codec";
import { blobOf } from "../testing/test-helpers";

// The hand-written codec must be byte-compatible with the generated one, in both directions.
describe("exchange codec", () => {
  const b = blobOf(4096);
  const request: BatchRequest = {
    ops: [
      {
        id: 1,
        op: {
          $case: "put",
          value: {
            header: { blobId: "0193abcdef0123456789abcdef01", attributes: { bucket: "b", key: "ключ/é", purgeAtMs: "1732500000000" } },
            data: b.data,
            sha256: b.sha256,
            crc32: 0xdeadbeef, // over 2^31: a uint32, not an int32
          },
        },
        requestId: "0A1B2C3D4E5F6789",
      },
      { id: 2 ** 40 + 3, op: { $case: "get", value: { blobId: "x", offset: 0, length: 0 } }, requestId: "client-sent:id/1" },
      { id: 3, op: { $case: "get", value: { blobId: "y", offset: 2 ** 33, length: undefined } }, requestId: "" },
      { id: 4, op: { $case: "delete", value: { blobId: "z", fenceBoot: 0, fenceSeq: 0 } }, requestId: "" },
      { id: 5, op: { $case: "stat", value: { blobId: "w" } }, requestId: "" },
      {
        id: 6,
        op: { $case: "put", value: { header: { blobId: "empty", attributes: {} }, data: Buffer.alloc(0), sha256: b.sha256, crc32: 0 } },
        requestId: "",
      },
      { id: 7, op: { $case: "delete", value: { blobId: "q", fenceBoot: 2 ** 48 - 1, fenceSeq: 2 ** 40 } }, requestId: "" },
    ],
  };
  const response: BatchResponse = {
    results: [
      {
        id: 1,
        code: 0,
        message: "",
        blob: { blobId: "a", size: 4096, sha256: b.sha256, storedAtMs: 1732500000123, attributes: { k: "v" } },
        data: b.data,
        existed: false,
        fenced: false,
      },
      { id: 2 ** 45, code: 5, message: "blob nope not found", blob: undefined, data: Buffer.alloc(0), existed: false, fenced: false },
      { id: 3, code: 0, message: "", blob: undefined, data: Buffer.alloc(0), existed: true, fenced: false },
      { id: 4, code: 0, message: "", blob: undefined, data: Buffer.alloc(0), existed: false, fenced: true },
    ],
    boot: 2 ** 48 - 1,
    seq: 2 ** 40 + 1,
  };

  it("encodes requests exactly as the generated code decodes them, and decodes what it encodes", () => {
    const ours = encodeBatchRequest(request);
    expect(BatchRequest.decode(ours)).toEqual(request);
    const theirs = Buffer.from(BatchRequest.encode(request).finish());
    expect(decodeBatchRequest(theirs)).toEqual(request);
    expect(ours.equals(theirs)).toBe(true);
  });

  it("does the same for responses", () => {
    const ours = encodeBatchResponse(response);
    expect(BatchResponse.decode(ours)).toEqual(response);
    const theirs = Buffer.from(BatchResponse.encode(response).finish());
    expect(withAttributes(decodeBatchResponse(theirs))).toEqual(response);
    expect(ours.equals(theirs)).toBe(true);
  });

  it("decodes an answer's attributes when they are read, from bytes of their own", () => {
    const message = encodeBatchResponse(response);
    const blob = decodeBatchResponse(message).results[0].blob!;
    message.fill(0); // the received message reused: the info does not point into it
    expect(blob.attributes).toEqual({ k: "v" });
    expect(blob.attributes).toBe(blob.attributes);
    const none = decodeBatchResponse(
      encodeBatchResponse({ ...response, results: [{ ...response.results[0], blob: { ...response.results[0].blob!, attributes: {} } }] }),
    );
    expect(none.results[0].blob!.attributes).toEqual({});
  });

  it("an op without a request id is byte for byte what it was before ids existed", () => {
    const withoutId = encodeBatchRequest({ ops: [request.ops[3]] });
    const withId = encodeBatchRequest({ ops: [{ ...request.ops[3], requestId: "0A1B2C3D4E5F6789" }] });
    // one tag, one length, 16 bytes: the whole cost of an id on the wire
    expect(withId.length - withoutId.length).toBe(18);
    expect(decodeBatchRequest(withoutId).ops[0].requestId).toBe("");
  });

  it("a put's crc32 is absent unless given (0 is a value, not absence), and a put without it is byte for byte what it was", () => {
    const put = request.ops[5];
    expect(decodeBatchRequest(encodeBatchRequest({ ops: [put] })).ops[0].op).toMatchObject({ value: { crc32: 0 } });
    const withoutCrc: PutSmallBlob = { ...(put.op!.value as PutSmallBlob) };
    delete withoutCrc.crc32;
    const before = encodeBatchRequest({ ops: [{ ...put, op: { $case: "put", value: withoutCrc } }] });
    expect((decodeBatchRequest(before).ops[0].op!.value as PutSmallBlob).crc32).toBeUndefined();
    // the field's tag and a one-byte varint: the whole cost of a crc32 of 0 on the wire
    expect(encodeBatchRequest({ ops: [put] }).length - before.length).toBe(2);
  });

  it("an unfenced delete, and a response from an older node, are byte for byte what they were", () => {
    // blob id "z" alone: op tag, length, id, then the delete's tag, length, its blob id's tag, length, "z"
    expect(encodeBatchRequest({ ops: [request.ops[3]] })).toEqual(Buffer.from([10, 7, 8, 4, 34, 3, 10, 1, 122]));
    const old = { results: [response.results[2]], boot: 0, seq: 0 };
    expect(encodeBatchResponse(old)).toEqual(Buffer.from(BatchResponse.encode(old).finish()));
    expect(encodeBatchResponse(old).length).toBe(6);
  });

  it("skips fields it does not know", () => {
    // field 15, varint 7, then a real op
    const unknown = Buffer.concat([Buffer.from([15 << 3, 7]), encodeBatchRequest({ ops: [request.ops[3]] })]);
    expect(decodeBatchRequest(unknown)).toEqual({ ops: [request.ops[3]] });
  });
});

/** A decoded response with each info's attributes read (AnswerBlobInfo decodes them when read). */
function withAttributes(r: BatchResponse): BatchResponse {
  return { ...r, results: r.results.map((x) => (x.blob ? { ...x, blob: { ...x.blob, attributes: x.blob.attributes } } : x)) };
}
