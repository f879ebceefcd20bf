// A stand-in for a MiniS3 service, for the harness's and supervisor's own tests: it listens where the
// plan says, answers /healthz 200 (coordinator), logs a line, and stops on SIGTERM.
// STUB_BEHAVIOUR: "ignore-sigterm" | "config-error" | "crash-once" (exits 1 once per data dir).
const http = require("node:http");
const net = require("node:net");
const fs = require("node:fs");
const path = require("node:path");

const env = process.env;
const behaviour = env.STUB_BEHAVIOUR || "";
if (behaviour === "config-error") {
  process.stderr.write("minis3: invalid configuration\n");
  process.exit(2);
}
if (behaviour === "crash-once" && env.MINIS3_DATA_DIR) {
  const marker = path.join(env.MINIS3_DATA_DIR, "crashed-once");
  if (!fs.existsSync(marker)) {
    fs.mkdirSync(env.MINIS3_DATA_DIR, { recursive: true });
    fs.writeFileSync(marker, "");
    console.log("crashing on purpose");
    process.exit(1);
  }
}
const port = Number(env.MINIS3_NODE_ID ? env.MINIS3_NODE_PORT : env.MINIS3_HTTP_PORT);
// Like the real coordinator, healthy only once the nodes answer (here: every planned node port accepts).
function nodesAnswer() {
  const base = Number(env.MINIS3_NODE_BASE_PORT);
  const ports = Array.from({ length: Number(env.MINIS3_STORAGE_NODES) + 2 }, (_, i) => base + i);
  return Promise.all(
    ports.map(
      (p) =>
        new Promise((resolve) => {
          const s = net.connect(p, "127.0.0.1", () => {
            s.destroy();
            resolve(true);
          });
          s.on("error", () => resolve(false));
        }),
    ),
  ).then((all) => all.every(Boolean));
}
const server = http.createServer(async (req, res) => {
  const healthy = req.url === "/healthz" && !env.MINIS3_NODE_ID ? await nodesAnswer() : req.url === "/healthz";
  res.writeHead(healthy ? 200 : req.url === "/healthz" ? 503 : 404, { "content-type": "application/json" });
  res.end(JSON.stringify({ ok: healthy, id: env.MINIS3_NODE_ID || "coordinator" }));
});
server.listen(port, env.MINIS3_HOST, () => {
  console.log(
    JSON.stringify({
      msg: "listening",
      id: env.MINIS3_NODE_ID || "coordinator",
      port,
      dataDir: env.MINIS3_DATA_DIR,
      address: env.MINIS3_NODE_ADDRESS,
    }),
  );
});
process.on("SIGTERM", () => {
  if (behaviour === "ignore-sigterm") {
    console.log("ignoring SIGTERM");
    return;
  }
  console.log("stopping");
  server.close(() => process.exit(0));
});
