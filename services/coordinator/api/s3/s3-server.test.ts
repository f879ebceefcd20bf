import { createHash, randomBytes } from "node:crypto";
import { type AddressInfo, connect, type Socket } from "node:net";
import type { Server } from "node:http";
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";
import { checksumOf } from "../../../auth/checksums";
import { KeyStore } from "../../../auth/keys";
import { ErrorCode, MiniS3Error } from "../../../common/errors";
import { sendThenRead } from "../testing/send-then-read";
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

const signer = new SignatureV4({
  service: "s3",
  region: "us-east-1",
  sha256: Sha256,
  credentials: { accessKeyId: "AKTEST", secretAccessKey: "secret-secret" },
});

async function signedGet(host: string, path: string, query: Record<string, string> = {}): Promise<{ status: number; text: string }> {
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

test("a coordinator at its large uploads' limit answers 503 SlowDown, S3's own code that SDKs back off and retry, with its message", async () => {
  const router = new S3Router();
  router.register({ name: "GetObject", method: "GET", target: "object" }, async () => {
    throw new MiniS3Error(ErrorCode.SlowDown, "this coordinator is streaming 8 large uploads (MINIS3_LARGE_UPLOADS)");
  });
  const host = await serve(KeyStore.single("AKTEST", "secret-secret"), router);
  const res = await signedGet(host, "/b1/key");
  expect(res.status).toBe(503);
  expect(res.text).toContain("<Code>SlowDown</Code>");
  expect(res.text).toContain("MINIS3_LARGE_UPLOADS");
});

describe("a body taken as sent (a sha256 or UNSIGNED-PAYLOAD) is checked as the handler reads it", () => {
  const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

  /** The headers of a signed request for /b1/key (a PUT unless told). */
  async function signedHeaders(host: string, headers: Record<string, string>, method = "PUT"): Promise<Record<string, string>> {
    const [hostname, port] = host.split(":");
    const signed = await signer.sign({
      method,
      protocol: "http:",
      hostname,
      port: Number(port),
      path: "/b1/key",
      headers: { host, ...headers },
    });
    return signed.headers;
  }

  /** A signed PUT /b1/key written on a socket of its own, `bytes` after its head; the socket stays open. */
  async function rawPut(host: string, headers: Record<string, string>, bytes: string): Promise<Socket> {
    const signed = await signedHeaders(host, headers);
    const [hostname, port] = host.split(":");
    const socket = connect(Number(port), hostname);
    await new Promise((resolve) => socket.once("connect", resolve));
    const head = Object.entries(signed)
      .map(([n, v]) => `${n}: ${v}\r\n`)
      .join("");
    socket.write(`PUT /b1/key HTTP/1.1\r\n${head}\r\n${bytes}`);
    return socket;
  }

  async function put(
    host: string,
    body: Buffer,
    headers: Record<string, string>,
  ): Promise<{ status: number; text: string; bytes: string | null }> {
    const signed = await signedHeaders(host, { "content-length": String(body.length), ...headers });
    const res = await fetch(`http://${host}/b1/key`, { method: "PUT", headers: signed, body });
    return { status: res.status, text: await res.text(), bytes: res.headers.get("x-bytes") };
  }

  async function server(): Promise<{ host: string; read: Array<{ bytes: number; checksums: Record<string, string | undefined> }> }> {
    const read: Array<{ bytes: number; checksums: Record<string, string | undefined> }> = [];
    const router = new S3Router();
    router.register({ name: "PutObject", method: "PUT", target: "object" }, async (req) => {
      const body = req.body();
      let bytes = 0;
      for await (const chunk of body) bytes += chunk.length;
      read.push({ bytes, checksums: { ...body.checksums } });
      return { headers: { "x-bytes": String(body.decodedLength) } };
    });
    return { host: await serve(KeyStore.single("AKTEST", "secret-secret"), router), read };
  }

  test("the signed sha256 and x-amz-checksum-* headers are checked at the end; a mismatch is the S3 error, the handler's read fails", async () => {
    const { host, read } = await server();
    const data = randomBytes(5000);
    const ok = await put(host, data, { "x-amz-content-sha256": sha256(data) });
    expect(ok.status).toBe(200);
    expect(ok.bytes).toBe("5000"); // the body's decodedLength, read after the end
    expect(read).toEqual([{ bytes: 5000, checksums: {} }]);

    const wrongSha = await put(host, data, { "x-amz-content-sha256": sha256(Buffer.from("other")) });
    expect(wrongSha.status).toBe(400);
    expect(wrongSha.text).toContain("<Code>XAmzContentSHA256Mismatch</Code>");

    const crc = checksumOf("crc32", data);
    expect((await put(host, data, { "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-checksum-crc32": crc })).status).toBe(200);
    expect(read[1]).toEqual({ bytes: 5000, checksums: { crc32: crc } });
    const wrongCrc = await put(host, data, {
      "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
      "x-amz-checksum-crc32": checksumOf("crc32", randomBytes(8)),
    });
    expect(wrongCrc.status).toBe(400);
    expect(wrongCrc.text).toContain("<Code>BadDigest</Code>");
    expect(read).toHaveLength(2); // neither failed read returned
  });

  test("a client that goes away mid-body makes the handler's read fail (IncompleteBody), not end short", async () => {
    const errors: unknown[] = [];
    const router = new S3Router();
    router.register({ name: "PutObject", method: "PUT", target: "object" }, async (req) => {
      let bytes = 0;
      try {
        for await (const chunk of req.body()) bytes += chunk.length;
      } catch (e) {
        errors.push(e);
        throw e;
      }
      return { headers: { "x-bytes": String(bytes) } };
    });
    const host = await serve(KeyStore.single("AKTEST", "secret-secret"), router);
    const socket = await rawPut(host, { "content-length": "1000", "x-amz-content-sha256": "UNSIGNED-PAYLOAD" }, "x".repeat(300));
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "Aborted" });
  });
  test("the body's check is made when a handler reads the body: a checksum header it cannot take fails a PUT before any byte, not a GET", async () => {
    let read = 0;
    const router = new S3Router();
    router.register({ name: "PutObject", method: "PUT", target: "object" }, async (req) => {
      for await (const chunk of req.body()) read += chunk.length;
      return {};
    });
    router.register({ name: "GetObject", method: "GET", target: "object" }, async () => ({ body: "got" }));
    const host = await serve(KeyStore.single("AKTEST", "secret-secret"), router);
    const unsupported = { "x-amz-checksum-crc64nvme": "AAAAAAAAAAA=", "x-amz-content-sha256": "UNSIGNED-PAYLOAD" };
    const refused = await put(host, Buffer.from("abc"), unsupported);
    expect(refused.status).toBe(400);
    expect(refused.text).toContain("<Code>InvalidArgument</Code>");
    expect(read).toBe(0);
    const got = await fetch(`http://${host}/b1/key`, { headers: await signedHeaders(host, unsupported, "GET") });
    expect([got.status, await got.text()]).toEqual([200, "got"]);
  });

  test("req.signal: not aborted while the client waits, aborted once it went away before the answer", async () => {
    const seen: boolean[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const router = new S3Router();
    router.register({ name: "PutObject", method: "PUT", target: "object" }, async (req) => {
      for await (const chunk of req.body()) void chunk;
      seen.push(req.signal.aborted);
      if (req.header("x-wait") !== undefined) {
        await gate;
        seen.push(req.signal.aborted);
      }
      return {};
    });
    const host = await serve(KeyStore.single("AKTEST", "secret-secret"), router);
    expect((await put(host, Buffer.from("abc"), { "x-amz-content-sha256": "UNSIGNED-PAYLOAD" })).status).toBe(200);
    const socket = await rawPut(host, { "content-length": "3", "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-wait": "1" }, "abc");
    for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual([false, false, true]);
  });

  describe("an answer given before the body was read reaches a client that reads only once it has sent", () => {
    const MiB = 1024 * 1024;
    const portOf = (host: string) => Number(host.split(":")[1]);

    test("a refusal before any byte of an 8 MiB body: 403, the connection closed after the body", async () => {
      const host = await serve(undefined);
      const got = await sendThenRead(portOf(host), `PUT /b1/key HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${8 * MiB}\r\n\r\n`, 8 * MiB);
      expect(got.head).toMatch(/^HTTP\/1\.1 403 /);
      expect(got.head.toLowerCase()).toContain("connection: close");
      expect(got.bodySent).toBe(8 * MiB);
    });

    test("an upload that fails after the handler read 1 MiB: its 503 still arrives", async () => {
      const router = new S3Router();
      router.register({ name: "PutObject", method: "PUT", target: "object" }, async (req) => {
        let read = 0;
        for await (const chunk of req.body()) {
          read += chunk.length;
          if (read >= MiB) throw new MiniS3Error(ErrorCode.NodeUnavailable, "the replicas went away");
        }
        return {};
      });
      const host = await serve(KeyStore.single("AKTEST", "secret-secret"), router);
      const headers = await signedHeaders(host, { "content-length": String(8 * MiB), "x-amz-content-sha256": "UNSIGNED-PAYLOAD" }, "PUT");
      const head = `PUT /b1/key HTTP/1.1\r\n${Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("")}\r\n`;
      const got = await sendThenRead(portOf(host), head, 8 * MiB);
      expect(got.head).toMatch(/^HTTP\/1\.1 503 /);
      expect(got.bodySent).toBe(8 * MiB);
    });
  });
});

test("every answer names the request under x-amz-request-id and x-request-id: a sane id sent, else a fresh one", async () => {
  const router = new S3Router();
  router.register({ name: "GetObject", method: "GET", target: "object" }, async () => ({ body: Buffer.from("bytes") }));
  router.register({ name: "HeadObject", method: "HEAD", target: "object" }, async () => ({ headers: { "content-length": "5" } }));
  router.register({ name: "DeleteObject", method: "DELETE", target: "object" }, async () => ({ status: 204 }));
  router.register({ name: "ListObjects", method: "GET", target: "bucket" }, async () => {
    throw new MiniS3Error(ErrorCode.NoSuchKey, "not there");
  });
  const host = await serve(KeyStore.single("AKTEST", "secret-secret"), router);
  const [hostname, port] = host.split(":");
  const ids = async (method: string, path: string, query: Record<string, string> = {}, id?: string) => {
    const signed = await signer.sign({ method, protocol: "http:", hostname, port: Number(port), path, query, headers: { host } });
    const qs = new URLSearchParams(query).toString();
    const res = await fetch(`http://${host}${path}${qs ? `?${qs}` : ""}`, {
      method,
      headers: { ...signed.headers, ...(id === undefined ? {} : { "x-request-id": id }) },
    });
    await res.arrayBuffer();
    return { status: res.status, amz: res.headers.get("x-amz-request-id"), plain: res.headers.get("x-request-id") };
  };
  for (const [method, path, query, status] of [
    ["GET", "/b1/key", {}, 200],
    ["HEAD", "/b1/key", {}, 200],
    ["DELETE", "/b1/key", {}, 204],
    ["GET", "/b1", {}, 404], // an error answer
    ["GET", "/b1/key", { acl: "" }, 501], // refused before any handler
  ] as const) {
    expect(await ids(method, path, query, "trace-1.a")).toEqual({ status, amz: "trace-1.a", plain: "trace-1.a" });
    const fresh = await ids(method, path, query, "not sane!");
    expect(fresh.amz).toMatch(/^[0-9A-F]{16}$/);
    expect(fresh).toEqual({ status, amz: fresh.amz, plain: fresh.amz });
  }
  // Unsigned (403 before the signature is read), and an id sent twice: a fresh id, under both names.
  const twice = await sendThenRead(
    Number(port),
    `GET /b1/key HTTP/1.1\r\nHost: ${host}\r\nX-Request-Id: a\r\nx-request-id: b\r\nConnection: close\r\n\r\n`,
    0,
  );
  expect(twice.head).toMatch(/^HTTP\/1.1 403/);
  const amz = /\r\nx-amz-request-id: ([^\r]*)/i.exec(twice.head)?.[1];
  expect(amz).toMatch(/^[0-9A-F]{16}$/);
  expect(/\r\nx-request-id: ([^\r]*)/i.exec(twice.head)?.[1]).toBe(amz);
});

test("a request without a query gets the first plain route of its method and target, as one with a query does", () => {
  const router = new S3Router();
  const handler = async () => ({});
  router.register({ name: "UploadPart", method: "PUT", target: "object", subresource: "uploadId" }, handler);
  router.register({ name: "PutObject", method: "PUT", target: "object" }, handler);
  router.register({ name: "GetObjectAcl", method: "GET", target: "object", subresource: "acl-of-ours" }, handler);
  const none = new Map<string, string>();
  const other = new Map([["x-id", "1"]]);
  expect(router.match("PUT", "object", none).route.name).toBe("PutObject");
  expect(router.match("PUT", "object", other).route.name).toBe("PutObject");
  expect(router.match("PUT", "object", new Map([["uploadId", "u"]])).route.name).toBe("UploadPart");
  for (const query of [none, other]) {
    expect(() => router.match("GET", "object", query)).toThrow(expect.objectContaining({ code: "MethodNotAllowed" }));
    expect(() => router.match("PUT", "bucket", query)).toThrow(expect.objectContaining({ code: "MethodNotAllowed" }));
  }
  expect(() => router.match("PUT", "object", new Map([["tagging", ""]]))).toThrow(expect.objectContaining({ code: "NotImplemented" }));
});
