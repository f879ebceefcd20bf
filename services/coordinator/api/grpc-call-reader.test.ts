import * as grpc from "@grpc/grpc-js";
import { CallReader } from "./grpc-call-reader";
import { http2StreamOf } from "./grpc-stream-reset";

// A real grpc-js server and client in this process: a client-streaming upload read through
// CallReader must be confirmed complete only after a half-close, never after a cancel (grpc-js's
// client cancels with END_STREAM then RST_STREAM, so the end alone looks complete).

type Outcome = { kind: "complete"; messages: number } | { kind: "aborted"; message: string };

const upload: grpc.MethodDefinition<Buffer, Buffer> = {
  path: "/test.Upload/Put",
  requestStream: true,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};

const passThrough: grpc.ServerInterceptor = (_method, call) => new grpc.ServerInterceptingCall(call);

async function withServer(
  interceptors: grpc.ServerInterceptor[],
  run: (client: grpc.Client, outcomes: Promise<Outcome>[], streamsSeen: boolean[], received: number[]) => Promise<void>,
): Promise<void> {
  const outcomes: Promise<Outcome>[] = [];
  const streamsSeen: boolean[] = [];
  const received: number[] = [];
  const server = new grpc.Server({ interceptors });
  server.addService({ put: upload } as grpc.ServiceDefinition, {
    put: (call: grpc.ServerReadableStream<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      streamsSeen.push(http2StreamOf(call) !== undefined);
      const index = received.push(0) - 1;
      call.on("data", () => received[index]++);
      const reader = new CallReader(call);
      const outcome = (async (): Promise<Outcome> => {
        let messages = 0;
        try {
          while ((await reader.next()) !== undefined) messages++;
          await reader.confirmEnd(); // where the engine would commit
          return { kind: "complete", messages };
        } catch (e) {
          return { kind: "aborted", message: (e as Error).message };
        }
      })();
      outcomes.push(outcome);
      void outcome.then((o) => callback(null, Buffer.from(o.kind)));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    await run(client, outcomes, streamsSeen, received);
  } finally {
    client.close();
    server.forceShutdown();
  }
}

function openUpload(client: grpc.Client): { call: grpc.ClientWritableStream<Buffer>; done: Promise<unknown> } {
  let call!: grpc.ClientWritableStream<Buffer>;
  const done = new Promise((resolve) => {
    call = client.makeClientStreamRequest(
      upload.path,
      upload.requestSerialize,
      upload.responseDeserialize,
      (err: grpc.ServiceError | null, value?: Buffer) => resolve(err ?? value),
    );
  });
  return { call, done };
}

const chunk = Buffer.alloc(256 * 1024, 7);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each([
  ["no interceptors", []],
  ["an interceptor chain", [passThrough, passThrough]],
])("CallReader with %s", (_name, interceptors: grpc.ServerInterceptor[]) => {
  it("sees the http2 stream under the call (grpc-js internals this relies on)", async () => {
    await withServer(interceptors, async (client, outcomes, streamsSeen) => {
      const { call, done } = openUpload(client);
      call.end();
      await done;
      await Promise.all(outcomes);
      expect(streamsSeen).toEqual([true]);
    });
  });

  it("a half-closed upload is complete with every message", async () => {
    await withServer(interceptors, async (client, outcomes) => {
      const { call, done } = openUpload(client);
      for (let i = 0; i < 8; i++) call.write(chunk);
      call.end();
      expect(String(await done)).toBe("complete");
      expect(await outcomes[0]).toEqual({ kind: "complete", messages: 8 });
    });
  });

  it("a cancelled upload is never complete, however its bytes were buffered", async () => {
    await withServer(interceptors, async (client, outcomes, _seen, received) => {
      for (let round = 0; round < 5; round++) {
        const { call, done } = openUpload(client);
        for (let i = 0; i < 8; i++) call.write(chunk);
        // the server has every message: only the reset is left to arrive
        while ((received[round] ?? 0) < 8) await sleep(5);
        call.cancel();
        expect(await done).toMatchObject({ code: grpc.status.CANCELLED });
        expect(await outcomes[round]).toMatchObject({ kind: "aborted" });
      }
    });
  });
});
