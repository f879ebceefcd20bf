import { ErrorCode, errorOf, hasCode, isMiniS3Error, NotFoundError } from "../common/errors";
import { NodeClient } from "./client/node-client";
import { startNodeServer, type RunningNodeServer } from "./server/node-server";
import { failingBackend } from "./testing/failing-backend";
import { blobOf, collect, silentLog } from "./testing/test-helpers";
import { WIRE_CODE, WIRE_OK } from "./wire-errors";

const ALL = Object.values(ErrorCode);

test("every code has its own wire number, none of them OK", () => {
  const numbers = ALL.map((c) => WIRE_CODE[c]);
  expect(new Set(numbers).size).toBe(ALL.length);
  expect(numbers).not.toContain(WIRE_OK);
  // An older node sent these as gRPC statuses: they must keep meaning the same.
  expect(WIRE_CODE[ErrorCode.NoSuchKey]).toBe(5);
  expect(WIRE_CODE[ErrorCode.IntegrityError]).toBe(15);
});

describe("errors a node answers with, read on the coordinator", () => {
  let next: unknown;
  let server: RunningNodeServer;
  let client: NodeClient;

  beforeAll(async () => {
    server = await startNodeServer(
      failingBackend(() => next),
      "127.0.0.1",
      0,
      { id: "f1", chunkSize: 1024, log: silentLog },
    );
    client = new NodeClient("f1", `127.0.0.1:${server.port}`, { deadlineMs: 5000 });
  });
  afterAll(async () => {
    client.close();
    await server.stop(500);
  });

  test.each(ALL)("%s survives the Exchange stream and the NodeService calls", async (code) => {
    next = errorOf(code, `failed with ${code}`);
    const b = blobOf(10);
    const viaExchange = await client.putSmall("b1", {}, b.data, b.sha256).catch((e) => e);
    const viaStream = await client.readBlob("b1").catch((e) => e);
    const viaUnary = await client.info().catch((e) => e);
    const viaList = await collect(client.listBlobs() as AsyncIterable<never>).catch((e) => e);
    for (const e of [viaExchange, viaStream, viaUnary, viaList]) {
      expect(isMiniS3Error(e)).toBe(true);
      expect(e).toMatchObject({ code, message: `failed with ${code}` });
    }
    // The class a code is thrown as comes back too (callers test instanceof NotFoundError).
    if (code === ErrorCode.NoSuchKey) expect(viaExchange).toBeInstanceOf(NotFoundError);
  });

  test("anything else a node throws comes back as Internal, not as the node being down", async () => {
    next = new Error("ER_CON_COUNT_ERROR: too many connections");
    const b = blobOf(10);
    for (const e of [await client.putSmall("b1", {}, b.data, b.sha256).catch((x) => x), await client.info().catch((x) => x)]) {
      expect(e).toMatchObject({ code: ErrorCode.Internal, message: "ER_CON_COUNT_ERROR: too many connections" });
    }
  });
});

test("a node that cannot be reached is NodeUnavailable, on every kind of call", async () => {
  const server = await startNodeServer(
    failingBackend(() => new Error("unused")),
    "127.0.0.1",
    0,
    { id: "gone", chunkSize: 1024, log: silentLog },
  );
  const port = server.port;
  await server.stop(0);
  const client = new NodeClient("gone", `127.0.0.1:${port}`, { deadlineMs: 2000 });
  try {
    const b = blobOf(10);
    const errors = [
      await client.putSmall("b1", {}, b.data, b.sha256).catch((e) => e),
      await client.readBlob("b1").catch((e) => e),
      await client.info().catch((e) => e),
    ];
    for (const e of errors) expect(hasCode(e, ErrorCode.NodeUnavailable)).toBe(true);
  } finally {
    client.close();
  }
});
