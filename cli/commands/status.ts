// `minis3 status`: /status for people: coordinators, nodes, the ring, tiers, queues, the next
// transitions due (/status/upcoming), repair. The fields read here are the facade's documented
// /status (README "Using it"); --json passes the whole answer through unchanged, including whatever
// this version does not print, with `upcoming` added.
import { formatSize, formatSpan, formatTime, relativeTime, table } from "../format";
import type { CommandContext } from "./context";

interface NodeRow {
  id: string;
  kind: string;
  address: string;
  zone: string;
  metricsPort?: number | null;
  state: string;
  live: boolean;
  heartbeatAtMs: number;
  silentForMs: number;
  blobCount: number;
  usedBytes: number;
  /** Null when the node cannot know (a backup node whose MariaDB runs on another host). */
  freeBytes: number | null;
  versionsLeft?: number;
  unreadableRecords?: number;
}

interface Status {
  nodes: NodeRow[];
  tiers: { tier: string; objects: number; bytes: number }[];
  queues: { name: string; waiting: number; delayed: number; active: number; failed: number }[];
  queuesError?: string;
  coordinators: { id: string; address: string; self: boolean; state: string; lastBeatAtMs: number; pid?: number; metricsPort?: number }[];
  readCache?: { enabled: boolean; rows: number };
  repair?: { lostNodes: string[]; versionsLeft: number; bytesLeft: number; copiedBytesPerSecond: number; etaSeconds: number | null };
  rehome?: { awayFromHome: number | null; underReplicated: number | null };
  /** The placement ring, if the server lists it; otherwise the storage nodes that take copies. */
  ring?: unknown;
}

/** GET /status/upcoming's entries. */
interface Upcoming {
  transition: string;
  due: string;
  bucket: string;
  key: string;
  versionId: string;
  size: number;
  tier: string;
}

/** Upcoming transitions listed unless --upcoming says otherwise, and the most the facade lists. */
export const UPCOMING_DEFAULT = 5;
export const UPCOMING_MAX = 500;

const RIGHT = (...cols: number[]) => new Set(cols);

/** A process's Prometheus port (on its address's host), "off", or "-" from a server that does not say. */
const metricsPort = (port: number | null | undefined) => (port ? String(port) : port === undefined ? "-" : "off");

export async function status(ctx: CommandContext, upcomingCount = UPCOMING_DEFAULT): Promise<void> {
  const [s, upcoming] = await Promise.all([
    ctx.client.json<Status>("GET", "/status"),
    upcomingCount ? ctx.client.json<{ upcoming: Upcoming[] }>("GET", "/status/upcoming", { limit: String(upcomingCount) }) : undefined,
  ]);
  if (ctx.json) return ctx.printJson(upcoming ? { ...s, upcoming: upcoming.upcoming } : s);
  const now = Date.now();
  const section = (title: string, body: string) => ctx.print(`${title}\n${body.replace(/^/gm, "  ")}\n`);

  section(
    `coordinators (${s.coordinators.filter((c) => c.state === "up").length} up of ${s.coordinators.length})`,
    table(
      ["ID", "STATE", "PID", "METRICS", "LAST BEAT"],
      s.coordinators.map((c) => [
        `${c.id}${c.self ? " *" : ""}`,
        c.state,
        c.pid === undefined ? "-" : String(c.pid),
        metricsPort(c.metricsPort),
        relativeTime(c.lastBeatAtMs, now),
      ]),
      RIGHT(2, 3),
    ),
  );

  const up = s.nodes.filter((n) => n.state === "up").length;
  section(
    `nodes (${up} up of ${s.nodes.length})`,
    table(
      ["ID", "KIND", "STATE", "ADDRESS", "ZONE", "METRICS", "BLOBS", "USED", "FREE", "HEARTBEAT"],
      s.nodes.map((n) => [
        n.id,
        n.kind,
        n.state + (n.versionsLeft !== undefined ? ` (${n.versionsLeft} left)` : "") + (n.state === "up" && !n.live ? " (not routed)" : ""),
        n.address,
        n.zone,
        metricsPort(n.metricsPort),
        String(n.blobCount),
        formatSize(n.usedBytes),
        n.freeBytes === null ? "unknown" : formatSize(n.freeBytes),
        `${formatSpan(n.silentForMs)} ago`,
      ]),
      RIGHT(5, 6, 7, 8),
    ),
  );

  // The ring places copies on storage nodes that are neither draining nor removed.
  const ring = Array.isArray(s.ring)
    ? (s.ring as unknown[]).map((r) => (typeof r === "string" ? r : String((r as { id?: string }).id ?? JSON.stringify(r))))
    : s.nodes
        .filter((n) => n.kind === "storage" && n.state !== "draining" && n.state !== "removed")
        .map((n) => `${n.id}${n.live ? "" : " (down)"}`);
  section(`ring (${ring.length} storage nodes)`, ring.join(", ") || "empty");

  section(
    "tiers",
    table(
      ["TIER", "OBJECTS", "BYTES"],
      s.tiers.map((t) => [t.tier, String(t.objects), formatSize(t.bytes)]),
      RIGHT(1, 2),
    ),
  );

  section(
    "queues",
    s.queuesError
      ? `unavailable: ${s.queuesError}`
      : table(
          ["NAME", "WAITING", "DELAYED", "ACTIVE", "FAILED"],
          s.queues.map((q) => [q.name, String(q.waiting), String(q.delayed), String(q.active), String(q.failed)]),
          RIGHT(1, 2, 3, 4),
        ),
  );

  if (upcoming) {
    section(
      "upcoming transitions, soonest first",
      upcoming.upcoming.length
        ? table(
            ["DUE", "", "TRANSITION", "BUCKET", "KEY", "TIER", "SIZE"],
            upcoming.upcoming.map((u) => [
              formatTime(u.due),
              relativeTime(Date.parse(u.due), now),
              u.transition,
              u.bucket,
              u.key,
              u.tier,
              formatSize(u.size),
            ]),
            RIGHT(6),
          )
        : "nothing is due: no hot object, nothing in the trash",
    );
  }

  const repair: string[] = [];
  if (s.repair) {
    const r = s.repair;
    repair.push(
      r.versionsLeft === 0
        ? "repair: nothing to copy"
        : `repair: ${r.versionsLeft} versions (${formatSize(r.bytesLeft)}) to copy at ${formatSize(r.copiedBytesPerSecond)}/s` +
            (r.etaSeconds !== null ? `, done in about ${formatSpan(r.etaSeconds * 1000)}` : "") +
            (r.lostNodes.length ? `; lost nodes: ${r.lostNodes.join(", ")}` : ""),
    );
  }
  if (s.rehome && s.rehome.awayFromHome !== null) {
    repair.push(`rehome: ${s.rehome.awayFromHome} objects away from home, ${s.rehome.underReplicated ?? "?"} under-replicated`);
  }
  if (repair.length) section("copies", repair.join("\n"));
}
