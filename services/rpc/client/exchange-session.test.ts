import { Duplex } from "node:stream";
import { ErrorCode } from "../../common/errors";
import type { NodeServiceClient } from "../gen/minis3/v1/node";
import { ExchangeSession } from "./exchange-session";

// Exchange ops expire on the monotonic clock (review finding 19: the deadlines were on Date.now(),
// so a wall-clock jump forward failed every pending op at once, or one backward held them for as
// long as it jumped).

/** A node that takes every message and never answers. */
function silentNode(): NodeServiceClient {
  return {
    exchange: () =>
      Object.assign(
        new Duplex({
          objectMode: true,
          read: () => undefined,
          write: (_message, _encoding, done) => done(),
        }),
        { cancel: () => undefined },
      ),
  } as unknown as NodeServiceClient;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

test("a wall-clock jump of two days neither expires a pending op early nor keeps it past its deadline", async () => {
  const session = new ExchangeSession(silentNode(), "n1", 1000);
  let outcome: unknown = "pending";
  const op = session
    .submit({ $case: "stat", value: { blobId: "b" } }, 0, undefined)
    .then(
      () => "answered",
      (e: unknown) => e,
    )
    .then((o) => (outcome = o));
  const wall = Date.now();
  const jump = jest.spyOn(Date, "now").mockImplementation(() => wall + 2 * 86_400_000);
  try {
    await sleep(600); // more than two sweeps (every 250 ms at a 1 s deadline)
    expect(outcome).toBe("pending");
    jump.mockImplementation(() => wall - 2 * 86_400_000);
    await sleep(1000);
    expect(outcome).toMatchObject({ code: ErrorCode.NodeUnavailable, message: expect.stringContaining("did not answer within 1000 ms") });
  } finally {
    jump.mockRestore();
    session.close();
    await op;
  }
});
