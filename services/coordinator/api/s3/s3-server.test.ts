import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";
import { KeyStore } from "../../../auth/keys";
import { S3Router } from "./router";
import { createS3Server } from "./s3-server";

// The S3 server's edge, in-process: no keys → every request refused saying what to set; the
// dispatch table's choice by sub-resource; unknown sub-resources 501 rather than the plain operation.

const timeouts = { idleMs: 10_000, headersMs: 5_000, requestMs: 0, keepAliveMs: 5_000 };
const servers: Server[] = [];

async function serve(keys: KeyStore | undefined, router = new S3Router()): Promise<string> {
  const server = createS3Server(router, { keys, domain: "", timeouts });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterAll(async () => {
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
});

async function signedGet(host: string, path: string, query: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const signer = new SignatureV4({
    service: "s3",
    region: "us-east-1",
    sha256: Sha256,
    credentials: { accessKeyId: "AKTEST", secretAccessKey: "secret-secret" },
  });
  const [hostname, port] = host.split(":");
  const signed = await signer.sign({ method: "GET", protocol: "http:", hostname, port: Number(port), path, query, headers: { host } });
  const qs = new URLSearchParams(query).toString();
  const res = await fetch(`http://${host}${path}${qs ? `?${qs}` : ""}`, { headers: signed.headers });
  return { status: res.status, text: await res.text() };
}

test("without keys every request is 403 AccessDenied naming MINIS3_ACCESS_KEY", async () => {
  const host = await serve(undefined);
  const res = await signedGet(host, "/");
  expect(res.status).toBe(403);
  expect(res.text).toContain("<Code>AccessDenied</Code>");
  expect(res.text).toContain("MINIS3_ACCESS_KEY");
});

test("routes are chosen by sub-resource; an unknown one is 501 NotImplemented, a method with no route 405", async () => {
  const router = new S3Router();
  router.register({ name: "ListObjects", method: "GET", target: "bucket" }, async () => ({ body: "<plain/>" }));
  router.register({ name: "GetBucketLocation", method: "GET", target: "bucket", subresource: "location" }, async () => ({
    body: "<location/>",
  }));
  const host = await serve(KeyStore.single("AKTEST", "secret-secret"), router);
  expect((await signedGet(host, "/b1", {})).text).toBe("<plain/>");
  expect((await signedGet(host, "/b1", { location: "" })).text).toBe("<location/>");
  const acl = await signedGet(host, "/b1", { acl: "" });
  expect(acl.status).toBe(501);
  expect(acl.text).toContain("<Code>NotImplemented</Code>");
  const object = await signedGet(host, "/b1/key");
  expect(object.status).toBe(405);
  expect(object.text).toContain("<Code>MethodNotAllowed</Code>");
  expect(() => router.register({ name: "Again", method: "GET", target: "bucket" }, async () => ({}))).toThrow(/registered twice/);
});
