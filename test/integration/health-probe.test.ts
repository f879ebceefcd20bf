import * as grpc from "@grpc/grpc-js";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { probe } from "../../deploy/health-probe";
import { addHealthService } from "../../services/rpc/health";

// The containers' health check (deploy/health-probe.ts) against real servers in this process: it
// passes only on HTTP 200 or gRPC SERVING, and fails with the reason otherwise.

let grpcServer: grpc.Server;
let grpcPort: number;
let serving = true;
let http: Server;
let httpPort: number;
let httpStatus = 200;

beforeAll(async () => {
  grpcServer = new grpc.Server();
  addHealthService(grpcServer, { services: [], probe: () => Promise.resolve(serving) });
  grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))),
  );
  http = createServer((_req, res) => res.writeHead(httpStatus).end(httpStatus === 200 ? "ready" : "database unreachable"));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  httpPort = (http.address() as AddressInfo).port;
});

afterAll(async () => {
  grpcServer?.forceShutdown();
  await new Promise((resolve) => http?.close(resolve));
});

it("passes on gRPC SERVING and fails on NOT_SERVING, naming it", async () => {
  serving = true;
  expect(await probe(`grpc://127.0.0.1:${grpcPort}`, {})).toBeUndefined();
  serving = false;
  expect(await probe(`grpc://127.0.0.1:${grpcPort}`, {})).toMatch(/NOT_SERVING/);
});

it("passes on HTTP 200 and fails on 503 with the body", async () => {
  httpStatus = 200;
  expect(await probe(`http://127.0.0.1:${httpPort}/readyz`, {})).toBeUndefined();
  httpStatus = 503;
  expect(await probe(`http://127.0.0.1:${httpPort}/readyz`, {})).toMatch(/HTTP 503 database unreachable/);
});

it("fails when nothing listens, and on a target it cannot read", async () => {
  // a port just freed: nothing listens there
  const free = createServer();
  await new Promise<void>((resolve) => free.listen(0, "127.0.0.1", resolve));
  const port = (free.address() as AddressInfo).port;
  await new Promise((resolve) => free.close(resolve));
  expect(await probe(`grpc://127.0.0.1:${port}`, {})).toMatch(/UNAVAILABLE/);
  expect(await probe(`http://127.0.0.1:${port}/readyz`, {})).toMatch(/ECONNREFUSED/);
  expect(await probe("127.0.0.1:50100", {})).toMatch(/cannot probe/);
});
