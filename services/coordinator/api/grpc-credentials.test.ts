// The gRPC API's credentials (issue 14 item 4): `authorization: Bearer <token>` metadata;
// UNAUTHENTICATED without a valid token, PERMISSION_DENIED for a bucket or admin call the key may not make.
import * as grpc from "@grpc/grpc-js";
import { mintBearerToken } from "../../auth/bearer-token";
import { bindServer, SERVER_OPTIONS, shutdownServer } from "../../common/grpc";
import { AdminServiceClient, ObjectServiceClient } from "../../rpc/gen/minis3/v1/object";
import { grpcCallers } from "./grpc-credentials";
import { addObjectServices } from "./object-grpc-service";
import { MemoryObjectEngine } from "./testing/memory-engine";
import { ADMIN, PHOTOS, TEST_KEYS } from "./testing/test-keys";

const keys = TEST_KEYS;

let engine: MemoryObjectEngine;
let server: grpc.Server;
let objects: ObjectServiceClient;
let admin: AdminServiceClient;

beforeEach(async () => {
  engine = new MemoryObjectEngine({ maxObjectSize: 1024 * 1024, readChunkSize: 16 * 1024 });
  server = new grpc.Server(SERVER_OPTIONS);
  addObjectServices(server, engine, engine, undefined, grpcCallers(keys));
  const address = `127.0.0.1:${await bindServer(server, "127.0.0.1", 0)}`;
  objects = new ObjectServiceClient(address, grpc.credentials.createInsecure());
  admin = new AdminServiceClient(address, grpc.credentials.createInsecure());
});
afterEach(async () => {
  objects.close();
  admin.close();
  await shutdownServer(server, 500);
});

function as(pair?: { accessKey: string; secretKey: string }, token?: string): grpc.Metadata {
  const md = new grpc.Metadata();
  if (pair || token) md.set("authorization", `Bearer ${token ?? mintBearerToken(pair!.accessKey, pair!.secretKey)}`);
  return md;
}

function put(md: grpc.Metadata, bucket: string, key: string, data: string): Promise<{ code: grpc.status; details?: string }> {
  return new Promise((resolve) => {
    const call = objects.putObject(md, (err) => resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK }));
    call.write({ part: { $case: "header", value: { bucket, key, contentType: "", metadata: {} } } });
    call.write({ part: { $case: "chunk", value: Buffer.from(data) } });
    call.end();
  });
}

const list = (md: grpc.Metadata, bucket: string) =>
  new Promise<grpc.status>((resolve) =>
    objects.listObjects({ bucket, prefix: "", limit: 10, cursor: "" }, md, (err) => resolve(err ? err.code : grpc.status.OK)),
  );
const status = (md: grpc.Metadata) =>
  new Promise<grpc.status>((resolve) => admin.getStatus({}, md, (err) => resolve(err ? err.code : grpc.status.OK)));

test("no token, a forged one or an old one: UNAUTHENTICATED, and nothing stored", async () => {
  const none = await put(as(), "photos", "a", "x");
  expect(none).toEqual({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining("authorization: Bearer") });
  expect((await put(as({ ...ADMIN, secretKey: "wrong-secret-wrong-secret" }), "photos", "a", "x")).code).toBe(grpc.status.UNAUTHENTICATED);
  const old = mintBearerToken(ADMIN.accessKey, ADMIN.secretKey, Date.now() - 16 * 60_000);
  expect((await put(as(undefined, old), "photos", "a", "x")).code).toBe(grpc.status.UNAUTHENTICATED);
  expect(await list(as(), "photos")).toBe(grpc.status.UNAUTHENTICATED);
  expect(await status(as())).toBe(grpc.status.UNAUTHENTICATED);
  expect(engine.objects.size).toBe(0);
});

test("a valid token: served within the key's buckets; PERMISSION_DENIED outside them and for admin calls", async () => {
  expect((await put(as(PHOTOS), "photos", "a", "x")).code).toBe(grpc.status.OK);
  expect((await put(as(PHOTOS), "accounts", "a", "x")).code).toBe(grpc.status.PERMISSION_DENIED);
  expect(await list(as(PHOTOS), "photos")).toBe(grpc.status.OK);
  expect(await list(as(PHOTOS), "accounts")).toBe(grpc.status.PERMISSION_DENIED);
  expect(await status(as(PHOTOS))).toBe(grpc.status.PERMISSION_DENIED);
  expect(await status(as(ADMIN))).toBe(grpc.status.OK);
  expect(engine.objects.size).toBe(1);
});
