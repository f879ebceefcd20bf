import { NotFoundError } from "../../common/errors";
import type { Logger } from "../../common/logger";
import type { AccessTracker } from "../catalogue/access-tracker";
import type { Catalogue } from "../catalogue/catalogue";
import { toObjectView } from "../model/object-view";
import type { VersionRow } from "../model/version-row";
import type { NodePool } from "../cluster/node-pool";
import type { ObjectView } from "../objects/object-engine";
import type { Placement } from "../placement/placement";
import type { BlobCopier } from "./blob-copier";
import type { Scheduler } from "./scheduler";

export interface TransitionOptions {
  hotTtlMs: number;
  /** A replica on a storage node down this long counts as lost. */
  repairAfterMs: number;
  replicas: number;
  writeQuorum: number;
}

/**
 * The moves between tiers. Every handler re-reads the catalogue and acts only if the version is
 * still where the job expected it; the order is always copy, verify, commit (a conditional UPDATE
 * that loses cleanly to a concurrent read, delete or undelete), then remove the old copies. A crash
 * at any point leaves the version readable from the tier the catalogue names, and old copies
 * listed in `cleanup` for the cleanup job.
 */
export class Transitions {
  constructor(
    private readonly catalogue: Catalogue,
    private readonly nodes: NodePool,
    private readonly placement: Placement,
    private readonly copier: BlobCopier,
    private readonly access: AccessTracker,
    private readonly scheduler: Scheduler,
    private readonly opts: TransitionOptions,
    private readonly log: Logger,
  ) {}

  /** hot → cold, once the version has not been read for the hot TTL. */
  async demote(versionId: string): Promise<string> {
    const v = await this.catalogue.version(versionId);
    if (!v || v.state !== "live" || v.tier !== "hot") return "not hot";
    const lastRead = Math.max(v.accessedMs, this.access.lastSeen(versionId) ?? 0);
    const due = lastRead + this.opts.hotTtlMs;
    if (Date.now() < due) {
      this.scheduler.add("demote", versionId, due, due);
      return "read since; rescheduled";
    }
    const backup = this.nodes.liveOfKind("backup");
    await this.copier.copy(v, v.replicas, [backup.id], 1, { bucket: v.bucket, key: v.key });
    const moved = await this.catalogue.moveTier(versionId, { state: "live", tier: "hot", accessedMs: v.accessedMs },
      { tier: "cold", replicas: [backup.id] }, v.replicas);
    if (!moved) return this.dropCopies(versionId, [backup.id], "demotion lost to a read or delete");
    await this.finishCleanup(versionId, v.replicas);
    this.log.info({ version: versionId, key: v.key, size: v.size }, "demoted to cold");
    return "demoted";
  }

  /** cold → hot, after a read of a cold version. */
  async promote(versionId: string): Promise<string> {
    const v = await this.catalogue.version(versionId);
    if (!v || v.state !== "live" || v.tier !== "cold") return "not cold";
    const targets = this.placement.targets(v.bucket, v.key);
    const copies = await this.copier.copy(v, v.replicas, targets, this.opts.writeQuorum);
    const now = Date.now();
    const moved = await this.catalogue.moveTier(versionId, { state: "live", tier: "cold" },
      { tier: "hot", replicas: copies, accessedMs: now }, v.replicas);
    if (!moved) return this.dropCopies(versionId, copies, "promotion lost to a delete");
    await this.finishCleanup(versionId, v.replicas);
    this.log.info({ version: versionId, key: v.key, size: v.size }, "promoted to hot");
    return "promoted";
  }

  /** Deleted or overwritten: the bytes move to the delete node until the purge. */
  async trash(versionId: string): Promise<string> {
    const v = await this.catalogue.version(versionId);
    if (!v || v.state !== "trash") return "not in the trash";
    if (v.tier === "trash") return "already moved";
    const trashNode = this.nodes.liveOfKind("delete");
    await this.copier.copy(v, v.replicas, [trashNode.id], 1, {
      bucket: v.bucket, key: v.key, versionId, size: String(v.size), sha256: v.sha256, etag: v.etag,
      contentType: v.contentType, reason: v.reason ?? "deleted", deletedAtMs: String(v.deletedMs), purgeAtMs: String(v.purgeMs),
    });
    const moved = await this.catalogue.moveTier(versionId, { state: "trash", tier: v.tier }, { tier: "trash", replicas: [trashNode.id] }, v.replicas);
    if (!moved) return this.dropCopies(versionId, [trashNode.id], "trash move lost to an undelete");
    await this.finishCleanup(versionId, v.replicas);
    return "moved to the trash";
  }

  /** After the trash TTL: the bytes go from every node, then the version from the catalogue. */
  async purge(versionId: string): Promise<string> {
    const v = await this.catalogue.version(versionId);
    if (!v) return "already purged";
    if (v.state !== "trash") return "restored";
    if ((v.purgeMs ?? 0) > Date.now()) {
      this.scheduler.add("purge", versionId, v.purgeMs!, v.purgeMs!);
      return "not due";
    }
    const failed = await this.copier.remove(versionId, [...new Set([...v.replicas, ...v.cleanup])]);
    if (failed.length) throw new Error(`could not delete the copies on ${failed.join(", ")}`);
    await this.catalogue.forget(versionId);
    this.log.info({ version: versionId, key: v.key }, "purged");
    return "purged";
  }

  /** Removes copies a transition left behind (never one the catalogue still points at). */
  async cleanup(versionId: string): Promise<string> {
    const v = await this.catalogue.version(versionId);
    if (!v || !v.cleanup.length) return "nothing to clean";
    await this.finishCleanup(versionId, v.cleanup.filter((id) => !v.replicas.includes(id)));
    return "cleaned";
  }

  /** Brings a hot version back to the replica count: drops bad copies, adds new ones. */
  async repair(versionId: string): Promise<string> {
    const v = await this.catalogue.version(versionId);
    if (!v || v.state !== "live" || v.tier !== "hot") return "not hot";
    const lost = new Set(this.nodes.storageNodesDownLongerThan(this.opts.repairAfterMs));
    const good: string[] = [];
    for (const id of v.replicas) {
      if (lost.has(id)) continue;
      const meta = await this.nodes.client(id).statBlob(versionId).catch(() => undefined);
      // undefined: unreachable for now, keep it (it may come back); null: missing; else compare checksums.
      if (meta === undefined || (meta && meta.size === v.size && meta.sha256.toString("hex") === v.sha256)) good.push(id);
    }
    const wanted = this.opts.replicas - good.length;
    if (wanted <= 0 && good.length === v.replicas.length) return "healthy";
    const targets = this.placement.targets(v.bucket, v.key, Number.MAX_SAFE_INTEGER).filter((id) => !good.includes(id)).slice(0, Math.max(0, wanted));
    const added = targets.length ? await this.copier.copy(v, good, targets, 1) : [];
    const replicas = [...good, ...added];
    const bad = v.replicas.filter((id) => !good.includes(id));
    const ok = await this.catalogue.moveTier(versionId, { state: "live", tier: "hot" }, { tier: "hot", replicas }, bad);
    if (!ok) return this.dropCopies(versionId, added, "repair lost to a transition");
    await this.finishCleanup(versionId, bad);
    this.log.info({ version: versionId, replicas }, "repaired");
    return "repaired";
  }

  /** The most recent restorable version of a key becomes visible again, as a hot object. */
  async undelete(bucket: string, key: string): Promise<ObjectView> {
    // A trash move may commit while we copy; then the bytes moved and we try again from there.
    for (let attempt = 0; attempt < 3; attempt++) {
      const t = await this.catalogue.latestTrash(bucket, key, Date.now());
      if (!t) break;
      let replicas = t.replicas;
      let leftovers: string[] = [];
      if (t.tier !== "hot") {
        replicas = await this.copier.copy(t, t.replicas, this.placement.targets(bucket, key), this.opts.writeQuorum);
        leftovers = t.replicas;
      }
      const { restored, replaced } = await this.catalogue.restore(t, replicas, leftovers, Date.now());
      if (!restored) {
        if (t.tier !== "hot") await this.dropCopies(t.versionId, replicas, "undelete lost a race");
        continue;
      }
      if (replaced) this.scheduler.add("trash", replaced);
      if (leftovers.length) await this.finishCleanup(t.versionId, leftovers);
      this.log.info({ version: t.versionId, key }, "undeleted");
      return toObjectView((await this.catalogue.version(t.versionId)) as VersionRow);
    }
    throw new NotFoundError(`nothing to undelete for ${bucket}/${key}`);
  }

  private async finishCleanup(versionId: string, nodeIds: string[]): Promise<void> {
    const failed = await this.copier.remove(versionId, nodeIds);
    await this.catalogue.setCleanup(versionId, failed);
    if (failed.length) this.scheduler.add("cleanup", versionId, Date.now() + 5000, Date.now());
  }

  /** A transition lost its race: remove the copies it made, unless the catalogue now uses them. */
  private async dropCopies(versionId: string, copies: string[], why: string): Promise<string> {
    const now = await this.catalogue.version(versionId);
    const inUse = new Set(now ? [...now.replicas] : []);
    await this.copier.remove(versionId, copies.filter((id) => !inUse.has(id)));
    return why;
  }
}
