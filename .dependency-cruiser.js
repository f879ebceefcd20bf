// Import rules the code keeps (`npm run lint:deps`): each has a name and one line saying what it
// protects; ARCHITECTURE.md draws the layers. Known violations waiting for a fix are listed in
// .dependency-cruiser-known-violations.json (`npm run lint:deps:baseline` rewrites it).

const NODE_SERVICES = "(delete-node|storage-node|backup-node)";
// Test code: jest files, the test/ tree, testing/ folders and test-support.ts helpers.
const TEST_CODE = "(\\.test\\.ts$|^test/|(^|/)testing/|(^|/)test-support\\.ts$)";

/** Code under `from` may import, of what lies under `area`, only the folders `allowed` (a regex alternation). */
function onlyImports(name, comment, from, area, allowed, { fromNot } = {}) {
  return { name, comment, severity: "error", from: { path: from, pathNot: fromNot }, to: { path: area, pathNot: `${area}(${allowed})/` } };
}

/** Code under `from` may not import anything under `to`. */
function never(name, comment, from, to, { fromNot } = {}) {
  return { name, comment, severity: "error", from: { path: from, pathNot: fromNot }, to: { path: to } };
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "A cycle makes load order matter and two modules one unit: split or invert it.",
      severity: "error",
      from: {},
      to: { circular: true },
    },

    // services/: node kinds on top of blobstore → rpc → membership → common. The lower layers'
    // rules leave tests out: an end-to-end test of the RPC layer may plug in the real disk store.
    {
      name: "node-services-stand-alone",
      comment:
        "Each node kind ships alone: it imports no other node service and not the coordinator (shared code is in rpc/, blobstore/, membership/, common/).",
      severity: "error",
      from: { path: `^services/${NODE_SERVICES}/` },
      to: { path: "^services/(delete-node|storage-node|backup-node|coordinator)/", pathNot: "^services/$1/" },
    },
    never(
      "coordinator-imports-no-node-service",
      "The coordinator talks to nodes over the wire (services/rpc), never through their code.",
      "^services/coordinator/",
      `^services/${NODE_SERVICES}/`,
    ),
    onlyImports(
      "common-is-the-bottom",
      "services/common holds utilities every service may use, so it imports no other services folder.",
      "^services/common/",
      "^services/",
      "common",
      { fromNot: TEST_CODE },
    ),
    onlyImports(
      "membership-imports-only-common",
      "The nodes table is written by every node and read by the coordinator: it sits just above common.",
      "^services/membership/",
      "^services/",
      "common|membership",
      { fromNot: TEST_CODE },
    ),
    onlyImports(
      "rpc-imports-only-common-and-membership",
      "The RPC layer (contract, wire, client, server) serves every service and knows none of them.",
      "^services/rpc/",
      "^services/",
      "common|membership|rpc",
      { fromNot: TEST_CODE },
    ),
    onlyImports(
      "auth-imports-only-common",
      "Request authentication (SigV4, keys) serves every front door (S3, facade, gRPC) and knows none of them.",
      "^services/auth/",
      "^services/",
      "common|auth",
      { fromNot: TEST_CODE },
    ),
    onlyImports(
      "blobstore-imports-only-lower-layers",
      "The disk store is shared by the storage and delete nodes, so it depends on neither.",
      "^services/blobstore/",
      "^services/",
      "common|membership|rpc|blobstore",
      { fromNot: TEST_CODE },
    ),

    // Tests stay out of what is built and shipped.
    never(
      "bench-and-deploy-not-on-test",
      "bench/, deploy/ and cli/ are built into dist/: the test harness must not ship with them.",
      "^(bench|deploy|cli)/",
      "^test/",
    ),

    // cli/ (the minis3 command) is a client of the HTTP facade, like any other.
    onlyImports(
      "cli-is-a-client",
      "The CLI talks to the cluster over HTTP: of services/ it uses only the pure helpers in common/ and auth/ (the SigV4 signer).",
      "^cli/",
      "^services/",
      "common|auth",
    ),
    {
      name: "cli-uses-only-client-parts-of-deploy",
      comment: "Of deploy/, the CLI reads only the key pair npm start keeps and how clients sign (for chaos), never the launcher.",
      severity: "error",
      from: { path: "^cli/" },
      to: { path: "^deploy/", pathNot: "^deploy/launcher/(credentials|client-credentials|paths)\\.ts$" },
    },
    never(
      "nothing-imports-the-cli",
      "The CLI is a leaf: services, bench and deploy work without it.",
      "^(services|bench|deploy)/",
      "^cli/",
    ),
    never(
      "no-test-code-outside-tests",
      "Only tests import testing/ folders, test-support.ts or *.test.ts: the build leaves those out.",
      undefined,
      TEST_CODE,
      { fromNot: TEST_CODE },
    ),

    // Inside the coordinator: api → objects → catalogue, lifecycle beside objects; placement,
    // cluster and model below them all.
    never(
      "catalogue-below-objects-api-lifecycle",
      "The catalogue is storage for the layers above: it does not reach up into objects/, api/ or lifecycle/.",
      "^services/coordinator/catalogue/",
      "^services/coordinator/(objects|api|lifecycle)/",
    ),
    never(
      "api-only-through-objects",
      "The front doors (HTTP, gRPC) go through the object engine, never straight to the catalogue or the lifecycle.",
      "^services/coordinator/api/",
      "^services/coordinator/(catalogue|lifecycle)/",
    ),
    onlyImports(
      "placement-and-cluster-are-leaves",
      "Placement and the cluster view serve the layers above: they import only each other and model/.",
      "^services/coordinator/(placement|cluster)/",
      "^services/coordinator/",
      "placement|cluster|model",
    ),
    onlyImports(
      "replicas-below-objects-and-lifecycle",
      "Replica I/O (quorum writes, fail-over reads, copies) serves the engine and every lifecycle job: it reaches down only to the node pool and model/.",
      "^services/coordinator/replicas/",
      "^services/coordinator/",
      "replicas|cluster|model",
    ),
    {
      name: "lifecycle-uses-objects-only-as-ports",
      comment:
        "The lifecycle implements the engine's ports (types) and shares replicas/ with it, never its classes; objects/ does not import lifecycle/.",
      severity: "error",
      from: { path: "^services/coordinator/lifecycle/" },
      to: { path: "^services/coordinator/objects/", dependencyTypesNot: ["type-only"] },
    },
    never(
      "objects-do-not-import-lifecycle",
      "The engine reaches the lifecycle through its ports (ObjectEvents, LifecycleFacade), not its code.",
      "^services/coordinator/objects/",
      "^services/coordinator/lifecycle/",
    ),
    {
      name: "no-async-local-storage",
      comment:
        "Request ids are passed explicitly (common/request-context.ts): one AsyncLocalStorage store entered makes every promise and await of the process pay Node 20's promise hooks (-5 to -36 % coordinator CPU per op without them).",
      severity: "error",
      from: { path: "^services/", pathNot: TEST_CODE },
      to: { path: "^(node:)?async_hooks$" },
    },
    onlyImports(
      "model-is-the-coordinator-bottom",
      "coordinator/model holds the types every coordinator layer shares: it imports no other coordinator code.",
      "^services/coordinator/model/",
      "^services/coordinator/",
      "model",
    ),
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|node_modules|bench/results)/" },
    // Type-only imports couple modules as much as value imports do: count them.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
