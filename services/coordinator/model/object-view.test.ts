import { nextTransition } from "./object-view";
import type { VersionRow } from "./version-row";

const TTL = 60_000;
const row = (over: Partial<VersionRow>): VersionRow => ({
  versionId: "0".repeat(28),
  bucket: "b",
  key: "k",
  size: 1,
  sha256: "",
  etag: "",
  contentType: "",
  metadata: {},
  state: "live",
  tier: "hot",
  replicas: [],
  cleanup: [],
  createdMs: 1000,
  accessedMs: 5000,
  deletedMs: null,
  purgeMs: null,
  reason: null,
  gen: 1,
  requestId: null,
  ...over,
});

test("live hot: demotion one hot TTL after the last access, a read not yet written counted", () => {
  expect(nextTransition(row({}), TTL)).toEqual({ transition: "demote", dueAtMs: 5000 + TTL });
  expect(nextTransition(row({}), TTL, 9000)).toEqual({ transition: "demote", dueAtMs: 9000 + TTL });
  expect(nextTransition(row({}), TTL, 10)).toEqual({ transition: "demote", dueAtMs: 5000 + TTL });
});

test("live cold: nothing scheduled (a read promotes it)", () => {
  expect(nextTransition(row({ tier: "cold" }), TTL)).toBeNull();
});

test("trashed, on any tier: the purge at its purge time", () => {
  for (const tier of ["hot", "cold", "trash"] as const) {
    expect(nextTransition(row({ state: "trash", tier, deletedMs: 7000, purgeMs: 99_000 }), TTL)).toEqual({
      transition: "purge",
      dueAtMs: 99_000,
    });
  }
});
