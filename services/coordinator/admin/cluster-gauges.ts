// What /status shows, as Prometheus gauges read at scrape time: objects and bytes per tier, node
// states and disks (as heartbeats report them), queue depths and the poller's moves in flight,
// repair, rehome (handoff and rebalance) and scrub progress. Figures that cost a catalogue query
// (tiers, scrub, repair backlog) are read at most every READ_EVERY_MS, so a 5 s scrape interval
// costs no more than /status every 10 s; a failed read keeps the last values (a scrape must not
// fail because Redis or MariaDB is away: the request metrics are needed most then).
//
// In a coordinator group the primary sums the workers' series, unless a gauge says otherwise:
// cluster-wide figures every worker reads alike (from the catalogue, the nodes table, Redis) are
// taken from one worker ("first") or as the highest ("max"); per-coordinator ones are summed.
import { Gauge } from "prom-client";
import { registry } from "../../common/metrics/registry";
import type { RepairStatusView } from "../lifecycle/rehome/repair-views";
import type { ClusterStatusDeps } from "./status";

/** The slice of the coordinator these gauges read (all of it in memory but where noted). */
export interface ClusterGaugeDeps {
  readonly catalogue: Pick<ClusterStatusDeps["catalogue"], "tierTotals" | "scrub">;
  readonly directory: Pick<ClusterStatusDeps["directory"], "all" | "memberState">;
  /** BullMQ's depths, in Redis (not the poller's work: that is `transitions`). */
  readonly queues: ClusterStatusDeps["scheduler"];
  readonly transitions: NonNullable<ClusterStatusDeps["transitions"]>;
  readonly repairs: NonNullable<ClusterStatusDeps["repairs"]>;
  /** This coordinator's large uploads streaming and waiting for their turn (objects/large-upload-gate.ts). */
  readonly largeUploads?: { readonly streaming: number; readonly waiting: number };
  /** The room this coordinator's uploads being received hold, and those waiting for room (objects/upload-buffer.ts). */
  readonly uploadBuffer?: { readonly held: number; readonly waiting: number };
}

const READ_EVERY_MS = 10_000;

type Aggregator = "first" | "max" | "sum";

/** A value read at most every READ_EVERY_MS; the last one kept while a read fails. */
function everyFewSeconds<T>(read: () => Promise<T>): () => Promise<T | undefined> {
  let last: T | undefined;
  let at = -Infinity;
  let pending: Promise<void> | undefined;
  return async () => {
    if (performance.now() - at >= READ_EVERY_MS) {
      pending ??= read().then(
        (v) => {
          last = v;
          at = performance.now();
        },
        () => {
          at = performance.now(); // try again next interval, not at every scrape
        },
      );
      await pending;
      pending = undefined;
    }
    return last;
  };
}

let registered = false;

/** Registers the gauges (once per process: a coordinator process serves one coordinator). */
export function registerClusterGauges(deps: ClusterGaugeDeps): void {
  if (registered) return;
  registered = true;
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    aggregator: Aggregator,
    collect?: (this: Gauge<L>) => Promise<void> | void,
  ): Gauge<L> => new Gauge<L>({ name, help, labelNames, aggregator, registers: [registry], ...(collect ? { collect } : {}) });

  // Each gauge collects its own values: the registry writes each one out once its own collect is
  // done, so a gauge set by another's collect could be written out before it.
  const tiers = everyFewSeconds(() => deps.catalogue.tierTotals());
  const perTier = (name: string, help: string, field: "objects" | "bytes") =>
    gauge(name, help, ["tier"], "first", async function () {
      for (const row of (await tiers()) ?? []) this.set({ tier: row.tier }, row[field]);
    });
  perTier("minis3_tier_objects", "Live versions per tier, and versions in the trash", "objects");
  perTier("minis3_tier_bytes", "Bytes of live versions per tier, and of the trash", "bytes");

  const node = ["node", "kind"] as const;
  // A value of null (a backup node's free space, unknown when its MariaDB is elsewhere) is left out.
  const perNode = (name: string, help: string, value: (n: ReturnType<ClusterGaugeDeps["directory"]["all"]>[number]) => number | null) =>
    gauge(name, help, node, "max", function () {
      for (const n of deps.directory.all()) {
        const v = value(n);
        if (v !== null) this.set({ node: n.id, kind: n.kind }, v);
      }
    });
  perNode("minis3_node_live", "1 when this coordinator routes to the node (heartbeats, and reachable)", (n) => (n.live ? 1 : 0));
  perNode("minis3_node_used_bytes", "Bytes a node holds, as its last heartbeat reported", (n) => n.usedBytes);
  perNode("minis3_node_free_bytes", "Free disk on a node, as its last heartbeat reported", (n) => n.freeBytes);
  perNode("minis3_node_blobs", "Blobs a node holds, as its last heartbeat reported", (n) => n.blobCount);
  gauge("minis3_node_state", "1 for a node's state: up, down, suspected, draining, removed", [...node, "state"], "max", function () {
    this.reset(); // a node has one state: the one it left must not stay at 1
    for (const n of deps.directory.all()) this.set({ node: n.id, kind: n.kind, state: deps.directory.memberState(n) }, 1);
  });

  const queues = everyFewSeconds(() => deps.queues.queueStatus());
  gauge(
    "minis3_queue_jobs",
    "Lifecycle jobs in BullMQ per queue and state (waiting, delayed, active, failed)",
    ["queue", "state"],
    "max",
    async function () {
      for (const q of (await queues()) ?? []) {
        for (const s of ["waiting", "delayed", "active", "failed"] as const) this.set({ queue: q.name, state: s }, q[s]);
      }
    },
  );
  const perTransition = (name: string, help: string, field: "inFlight" | "backingOff") =>
    gauge(name, help, ["transition"], "sum", function () {
      for (const t of deps.transitions.transitions()) this.set({ transition: t.kind }, t[field]);
    });
  perTransition("minis3_lifecycle_in_flight", "Versions the due-row poller is moving now", "inFlight");
  perTransition("minis3_lifecycle_backing_off", "Versions the due-row poller waits on after a failed move", "backingOff");
  gauge(
    "minis3_large_uploads",
    "Large uploads holding one of this coordinator's turns to stream (state=streaming, MINIS3_LARGE_UPLOADS a process; a slow client's gives its up) and waiting for one",
    ["state"],
    "sum",
    function () {
      const gate = deps.largeUploads;
      if (!gate) return;
      this.set({ state: "streaming" }, gate.streaming);
      this.set({ state: "waiting" }, gate.waiting);
    },
  );
  gauge(
    "minis3_upload_buffer_bytes",
    "Bytes of MINIS3_UPLOAD_BUFFER (a coordinator process) the uploads being received hold for their heads",
    [],
    "sum",
    function () {
      if (deps.uploadBuffer) this.set(deps.uploadBuffer.held);
    },
  );
  gauge(
    "minis3_upload_buffer_waiting",
    "Uploads waiting for room in MINIS3_UPLOAD_BUFFER before their bodies are read",
    [],
    "sum",
    function () {
      if (deps.uploadBuffer) this.set(deps.uploadBuffer.waiting);
    },
  );

  const repair = everyFewSeconds(() => deps.repairs.repairStatus());
  const fromRepair = (name: string, help: string, aggregator: Aggregator, value: (r: RepairStatusView) => number) =>
    gauge(name, help, [], aggregator, async function () {
      const r = await repair();
      if (r) this.set(value(r));
    });
  fromRepair(
    "minis3_repair_versions_left",
    "Live hot versions short of MINIS3_REPLICAS copies once copies on lost nodes are not counted",
    "first",
    (r) => r.versionsLeft,
  );
  fromRepair("minis3_repair_bytes_left", "Bytes of the copies repair has yet to make", "first", (r) => r.bytesLeft);
  fromRepair(
    "minis3_repair_lost_nodes",
    "Storage nodes down long enough to have their copies made elsewhere",
    "max",
    (r) => r.lostNodes.length,
  );
  fromRepair(
    "minis3_repair_copied_bytes_per_second",
    "Bytes a second this coordinator copied for repair and rehome over the last 10 s",
    "sum",
    (r) => r.copiedBytesPerSecond,
  );
  const fromRehome = (name: string, help: string, field: "awayFromHome" | "underReplicated") =>
    gauge(name, help, [], "max", function () {
      const v = deps.repairs.rehomeStatus()[field];
      if (v !== null) this.set(v);
    });
  fromRehome(
    "minis3_rehome_away_from_home",
    "Versions with a copy off their home nodes (handoff, rebalance), as of the last rehome pass",
    "awayFromHome",
  );
  fromRehome("minis3_rehome_under_replicated", "Versions under MINIS3_REPLICAS copies, as of the last rehome pass", "underReplicated");

  const scrub = everyFewSeconds(() => deps.catalogue.scrub.state());
  const scrubTotals = ["versions", "bytes", "corrupt", "missing", "unreachable", "repairsQueued", "orphansDeleted"] as const;
  gauge(
    "minis3_scrub_totals",
    "The scrubber's running totals, cluster-wide, by what: versions and bytes checked; copies found corrupt, missing, unreachable; repairs queued; orphans deleted",
    ["what"],
    "first",
    async function () {
      const s = await scrub();
      for (const what of scrubTotals) if (s) this.set({ what }, s.totals[what]);
    },
  );
  gauge("minis3_scrub_passes", "Scrub passes completed, cluster-wide", [], "first", async function () {
    const s = await scrub();
    if (s) this.set(s.passes);
  });
  gauge("minis3_scrub_pass_versions_checked", "Versions the scrubber's current pass has checked", [], "first", async function () {
    const s = await scrub();
    if (s) this.set(s.pass.versions);
  });
}
