import { QUEUE_NAMES } from "../queues";
import { JOBS } from ".";

describe("lifecycle job registry", () => {
  test("each job has its own queue, listed in /status in the order operators and the bench know", () => {
    // The bench and the test harness skip "reconcile" by name when they wait for the queues to drain.
    expect(QUEUE_NAMES).toEqual(["demote", "promote", "trash", "purge", "cleanup", "repair", "reconcile"]);
    expect(new Set(JOBS.map((j) => j.name)).size).toBe(JOBS.length);
  });
});
