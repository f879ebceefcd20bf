// Promise-based clients of minis3.v1.ObjectService for tests, in two flavours that must behave the
// same: the ts-proto generated client, and one built at run time from the .proto with
// @grpc/proto-loader (what a third-party client would do). Only the oneof encoding differs.
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import {
  AdminServiceClient,
  ObjectServiceClient,
  type ClusterStatus,
  type DeleteObjectResponse,
  type NodeStatus,
  type GetObjectInfo,
  type GetObjectRequest,
  type HeadObjectResponse,
  type ListObjectsResponse,
  type ListTrashResponse,
  type ObjectInfo,
  type PutObjectHeader,
  type PutObjectTrailer,
  DeleteObjectRequest,
  GetObjectRequest as GetObjectRequestFns,
  HeadObjectRequest,
  ListObjectsRequest,
  ListTrashRequest,
  UndeleteObjectRequest,
} from "../../../rpc/gen/minis3/v1/object";
import { authorizationFor } from "../../../../deploy/launcher/client-credentials";
import { repoRoot } from "../../../../deploy/launcher/paths";

/** How one client flavour writes PutObject messages and reads GetObject messages. */
interface OneofCodec {
  /** Fills a partial request message in (ts-proto's encoder needs every field). */
  request(method: RequestMethod, partial: object): object;
  header(h: PutObjectHeader): unknown;
  chunk(b: Buffer): unknown;
  trailer(t: PutObjectTrailer): unknown;
  readGetPart(message: unknown): { info?: GetObjectInfo; chunk?: Buffer };
}

type RequestMethod = "getObject" | "headObject" | "deleteObject" | "listObjects" | "undeleteObject" | "listTrash";

const GENERATED_REQUESTS: Record<RequestMethod, { fromPartial(p: object): object }> = {
  getObject: GetObjectRequestFns,
  headObject: HeadObjectRequest,
  deleteObject: DeleteObjectRequest,
  listObjects: ListObjectsRequest,
  undeleteObject: UndeleteObjectRequest,
  listTrash: ListTrashRequest,
};

const generatedCodec: OneofCodec = {
  request: (method, partial) => GENERATED_REQUESTS[method].fromPartial(partial),
  header: (value) => ({ part: { $case: "header", value } }),
  chunk: (value) => ({ part: { $case: "chunk", value } }),
  trailer: (value) => ({ part: { $case: "trailer", value } }),
  readGetPart: (m) => {
    const part = (m as { part?: { $case: string; value: unknown } }).part;
    if (part?.$case === "info") return { info: part.value as GetObjectInfo };
    if (part?.$case === "chunk") return { chunk: part.value as Buffer };
    return {};
  },
};

// proto-loader with `oneofs: true` names the set member in a virtual `part` field.
const dynamicCodec: OneofCodec = {
  request: (_method, partial) => partial,
  header: (header) => ({ header }),
  chunk: (chunk) => ({ chunk }),
  trailer: (trailer) => ({ trailer }),
  readGetPart: (m) => {
    const msg = m as { part?: string; info?: GetObjectInfo; chunk?: Buffer };
    if (msg.part === "info") return { info: msg.info };
    if (msg.part === "chunk") return { chunk: msg.chunk };
    return {};
  },
};

export type ClientFlavour = "generated" | "proto-loader";

export interface OpenPut {
  write(chunk: Buffer): Promise<void>;
  /** Sends the trailer (the body's digests), the stream's last message. */
  trailer(t: PutObjectTrailer): void;
  /** Half-closes the stream and waits for the response. */
  finish(): Promise<ObjectInfo>;
  cancel(): void;
  /** Settles with the call's outcome (rejected with the ServiceError on failure or cancel). */
  result: Promise<ObjectInfo>;
}

export interface GetOutcome {
  info: GetObjectInfo;
  data: Buffer;
  chunkSizes: number[];
}

type Callback<T> = (err: grpc.ServiceError | null, res: T) => void;
/** The methods both flavours share (grpc-js gives proto-loader clients camelCase aliases). */
interface RawObjectClient extends grpc.Client {
  putObject(cb: Callback<{ object: ObjectInfo }>): grpc.ClientWritableStream<unknown>;
  getObject(req: object): grpc.ClientReadableStream<unknown>;
  headObject(req: object, cb: Callback<HeadObjectResponse>): grpc.ClientUnaryCall;
  deleteObject(req: object, cb: Callback<DeleteObjectResponse>): grpc.ClientUnaryCall;
  listObjects(req: object, cb: Callback<ListObjectsResponse>): grpc.ClientUnaryCall;
  undeleteObject(req: object, cb: Callback<{ object: ObjectInfo }>): grpc.ClientUnaryCall;
  listTrash(req: object, cb: Callback<ListTrashResponse>): grpc.ClientUnaryCall;
}

export class TestObjectClient {
  private constructor(
    private readonly raw: RawObjectClient,
    private readonly codec: OneofCodec,
  ) {}

  static create(flavour: ClientFlavour, address: string): TestObjectClient {
    const creds = grpc.credentials.createInsecure();
    const options = signedCalls(address);
    if (flavour === "generated") {
      return new TestObjectClient(new ObjectServiceClient(address, creds, options) as unknown as RawObjectClient, generatedCodec);
    }
    const Ctor = loadDynamicObjectService();
    return new TestObjectClient(new Ctor(address, creds, options) as unknown as RawObjectClient, dynamicCodec);
  }

  openPut(header: Partial<PutObjectHeader>): OpenPut {
    let stream!: grpc.ClientWritableStream<unknown>;
    const result = new Promise<ObjectInfo>((resolve, reject) => {
      stream = this.raw.putObject((err, res) => (err ? reject(err) : resolve(res.object)));
    });
    result.catch(() => undefined); // the caller may only look at it later
    stream.write(this.codec.header({ bucket: "", key: "", contentType: "", metadata: {}, ...header }));
    return {
      write: (chunk) =>
        new Promise<void>((resolve) => {
          if (stream.write(this.codec.chunk(chunk))) resolve();
          else stream.once("drain", () => resolve());
        }),
      trailer: (t) => void stream.write(this.codec.trailer(t)),
      finish: () => {
        stream.end();
        return result;
      },
      cancel: () => stream.cancel(),
      result,
    };
  }

  /** A trailer, when given, is sent after the last chunk. */
  async put(header: Partial<PutObjectHeader>, chunks: Buffer[], trailer?: PutObjectTrailer): Promise<ObjectInfo> {
    const put = this.openPut(header);
    for (const chunk of chunks) await put.write(chunk);
    if (trailer) put.trailer(trailer);
    return put.finish();
  }

  /** Sends any raw message first: for testing what the server does with a bad stream. */
  putRaw(messages: unknown[]): Promise<ObjectInfo> {
    return new Promise((resolve, reject) => {
      const stream = this.raw.putObject((err, res) => (err ? reject(err) : resolve(res.object)));
      for (const m of messages) stream.write(m);
      stream.end();
    });
  }

  chunkMessage(b: Buffer): unknown {
    return this.codec.chunk(b);
  }

  get(req: Partial<GetObjectRequest>): Promise<GetOutcome> {
    return new Promise((resolve, reject) => {
      const call = this.raw.getObject(this.codec.request("getObject", req));
      let info: GetObjectInfo | undefined;
      const chunks: Buffer[] = [];
      call.on("data", (m: unknown) => {
        const part = this.codec.readGetPart(m);
        if (part.info) info = part.info;
        if (part.chunk) chunks.push(part.chunk);
      });
      call.on("error", reject);
      call.on("end", () => {
        if (!info) return reject(new Error("GetObject ended without an info message"));
        resolve({ info, data: Buffer.concat(chunks), chunkSizes: chunks.map((c) => c.length) });
      });
    });
  }

  /** Starts a GetObject and cancels it after the first chunk arrives. */
  getThenCancel(req: Partial<GetObjectRequest>): Promise<void> {
    return new Promise((resolve) => {
      const call = this.raw.getObject(this.codec.request("getObject", req));
      call.on("data", (m: unknown) => {
        if (this.codec.readGetPart(m).chunk) {
          call.cancel();
          resolve();
        }
      });
      call.on("error", () => resolve());
    });
  }

  head(bucket: string, key: string): Promise<ObjectInfo> {
    return this.unary<{ object: ObjectInfo }>("headObject", { bucket, key }).then((r) => r.object);
  }
  /** The whole answer, with the version's next lifecycle move; `versionId` "" for the current one. */
  headObject(bucket: string, key: string, versionId = ""): Promise<HeadObjectResponse> {
    return this.unary("headObject", { bucket, key, versionId });
  }
  delete(bucket: string, key: string): Promise<DeleteObjectResponse> {
    return this.unary("deleteObject", { bucket, key });
  }
  list(req: { bucket?: string; prefix?: string; limit?: number; cursor?: string }): Promise<ListObjectsResponse> {
    return this.unary("listObjects", req);
  }
  undelete(bucket: string, key: string): Promise<ObjectInfo> {
    return this.unary<{ object: ObjectInfo }>("undeleteObject", { bucket, key }).then((r) => r.object);
  }
  listTrash(req: { bucket?: string; prefix?: string; limit?: number; cursor?: string }): Promise<ListTrashResponse> {
    return this.unary("listTrash", req);
  }

  close(): void {
    this.raw.close();
  }

  private unary<T>(method: Exclude<RequestMethod, "getObject">, req: object): Promise<T> {
    return new Promise((resolve, reject) => {
      (this.raw[method] as (r: object, cb: Callback<T>) => grpc.ClientUnaryCall).call(
        this.raw,
        this.codec.request(method, req),
        (err, res) => (err ? reject(err) : resolve(res)),
      );
    });
  }
}

/**
 * Client options under which every call carries `authorization: Bearer <token>` for the cluster at
 * `address` (deploy/launcher/client-credentials.ts), minted per call so a long test never sends a
 * stale one; nothing when no key pair is known (an in-process server without keys).
 */
export function signedCalls(address: string): grpc.ClientOptions {
  const signing: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        for (const [name, value] of Object.entries(authorizationFor(address))) metadata.set(name, value);
        next(metadata, listener);
      },
    });
  return { interceptors: [signing] };
}

export function getClusterStatus(address: string): Promise<ClusterStatus> {
  const client = new AdminServiceClient(address, grpc.credentials.createInsecure(), signedCalls(address));
  return new Promise<ClusterStatus>((resolve, reject) => {
    client.getStatus({}, (err, res) => (err ? reject(err) : resolve(res)));
  }).finally(() => client.close());
}

/** AdminService.RemoveNode; a failed call rejects with the grpc-js error (its `code` is the status). */
export function removeNode(address: string, id: string): Promise<NodeStatus> {
  const client = new AdminServiceClient(address, grpc.credentials.createInsecure(), signedCalls(address));
  return new Promise<NodeStatus>((resolve, reject) => {
    client.removeNode({ id }, (err, res) => (err ? reject(err) : resolve(res)));
  }).finally(() => client.close());
}

let dynamicService: grpc.ServiceClientConstructor | undefined;

function loadDynamicObjectService(): grpc.ServiceClientConstructor {
  if (!dynamicService) {
    const definition = protoLoader.loadSync(path.join("minis3", "v1", "object.proto"), {
      includeDirs: [path.join(repoRoot(), "proto")],
      keepCase: false,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { minis3: { v1: { ObjectService: grpc.ServiceClientConstructor } } };
    dynamicService = pkg.minis3.v1.ObjectService;
  }
  return dynamicService;
}
