// A node's own gauges, read from its backend at scrape time: what its store holds and the disk it
// has left (the coordinator's minis3_node_* gauges show the same as heartbeats last reported it).
import { Gauge } from "prom-client";
import { registry } from "../../common/metrics/registry";
import type { BlobBackend } from "../blob-backend";

export function registerStoreGauges(backend: Pick<BlobBackend, "stats" | "smallBlobIndex">): void {
  const used = new Gauge({ name: "minis3_store_used_bytes", help: "Bytes of blobs this node holds", registers: [registry] });
  const free = new Gauge({
    name: "minis3_store_free_bytes",
    help: "Free bytes on this node's disk (0 for the backup node: MariaDB's)",
    registers: [registry],
  });
  const unreadable = new Gauge({
    name: "minis3_store_unreadable_records",
    help: "Damaged segment records the store stepped over",
    registers: [registry],
  });
  const index = backend.smallBlobIndex?.bind(backend);
  if (index) {
    new Gauge({
      name: "minis3_store_small_blobs",
      help: "Small blobs in this node's in-memory index",
      registers: [registry],
      collect() {
        this.set(index().blobs);
      },
    });
    new Gauge({
      name: "minis3_store_small_blobs_max",
      help: "Small blobs this node's in-memory index takes before small puts are refused (MINIS3_NODE_MAX_SMALL_BLOBS)",
      registers: [registry],
      collect() {
        this.set(index().maxBlobs);
      },
    });
  }
  new Gauge({
    name: "minis3_store_blobs",
    help: "Blobs this node holds",
    registers: [registry],
    async collect() {
      try {
        const s = await backend.stats();
        this.set(s.blobCount);
        used.set(s.usedBytes);
        if (s.freeBytes !== null) free.set(s.freeBytes);
        unreadable.set(s.unreadableRecords ?? 0);
      } catch {
        // the last values stay: a scrape must not fail with the disk
      }
    },
  });
}
