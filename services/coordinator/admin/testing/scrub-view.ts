import type { ScrubStatusView } from "../cluster-admin";

/** A scrubber mid-pass with something of everything found: every field distinct, so a mix-up shows. */
export const SCRUB_VIEW: ScrubStatusView = {
  rateBytesPerSecond: 4194304,
  owner: "host:50051#ab12cd34",
  leaseUntilMs: 1700000030000,
  // 2 of 5 versions checked in this pass
  pass: { startedAtMs: 1699999000000, versionsChecked: 2, bytesChecked: 8192, progress: 0.4 },
  passes: 3,
  lastPassEndedAtMs: 1699998000000,
  totals: { versionsChecked: 17, bytesChecked: 70000, corrupt: 1, missing: 2, unreachable: 5, repairsQueued: 3, orphansDeleted: 4 },
};
