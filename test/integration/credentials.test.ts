import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { startCluster, type TestCluster } from "../../deploy/launcher/cluster";
import { CLUSTER_SECRET_HEADER } from "../../services/rpc/cluster-secret";
import { NodeServiceClient } from "../../services/rpc/gen/minis3/v1/node";
import { ObjectServiceClient } from "../../services/rpc/gen/minis3/v1/object";

// Credentials on every interface of a real cluster (issue 14 item 4): a stranger cannot talk to a
// storage node, the facade takes curl's SigV4 and refuses anonymous calls, the gRPC API wants a token.

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(() => cluster?.stop());

const run = promisify(execFile);

test("a raw gRPC client without the cluster secret is refused by a storage node; with it, served", async () => {
  const node = cluster.specs.find((s) => s.name === "storage-1")!;
  const client = new NodeServiceClient(node.address, grpc.credentials.createInsecure());
  const getInfo = (md: grpc.Metadata) =>
    new Promise<{ code: number; id?: string }>((resolve) =>
      client.getInfo({}, md, { deadline: Date.now() + 10_000 }, (err, r) => resolve(err ? { code: err.code } : { code: 0, id: r.id })),
    );
  try {
    expect(await getInfo(new grpc.Metadata())).toEqual({ code: grpc.status.UNAUTHENTICATED });
    const md = new grpc.Metadata();
    md.set(CLUSTER_SECRET_HEADER, node.env.MINIS3_CLUSTER_SECRET);
    expect(await getInfo(md)).toEqual({ code: 0, id: "storage-1" });
  } finally {
    client.close();
  }
});

test("the facade: curl --aws-sigv4 uploads and reads back; no credentials or a wrong secret get 401", async () => {
  const user = (secret: string) => ["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", `${cluster.accessKey}:${secret}`];
  const curl = async (args: string[]) => (await run("curl", ["-s", "-w", "\n%{http_code}", ...args])).stdout.split("\n");
  const url = `${cluster.httpUrl}/upload?key=creds/curl.txt`;
  expect(
    (await curl([...user(cluster.secretKey), "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--data-binary", "signed by curl", url])).at(
      -1,
    ),
  ).toBe("201");
  expect(await curl([...user(cluster.secretKey), `${cluster.httpUrl}/retrieve?key=creds/curl.txt`])).toEqual(["signed by curl", "200"]);
  expect((await curl([`${cluster.httpUrl}/retrieve?key=creds/curl.txt`])).at(-1)).toBe("401");
  expect((await curl([...user("a-wrong-secret-0000000000"), `${cluster.httpUrl}/retrieve?key=creds/curl.txt`])).at(-1)).toBe("401");
  expect((await curl([`${cluster.httpUrl}/healthz`])).at(-1)).toBe("200");
});

test("the gRPC API without a token: UNAUTHENTICATED", async () => {
  const client = new ObjectServiceClient(cluster.grpcAddress, grpc.credentials.createInsecure());
  try {
    const code = await new Promise<number>((resolve) =>
      client.headObject({ bucket: "", key: "creds/curl.txt", versionId: "" }, (err) => resolve(err ? err.code : grpc.status.OK)),
    );
    expect(code).toBe(grpc.status.UNAUTHENTICATED);
  } finally {
    client.close();
  }
});
