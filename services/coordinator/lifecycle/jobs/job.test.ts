import type { Logger } from "../../../common/logger";
import { forRequest, type JobContext } from "./job";

// What a job run for a request must carry: the due-row poller and the BullMQ workers build one such
// context per job, and every node op, queued job and log line of the job names the request.

function baseContext() {
  const calls: unknown[][] = [];
  const children: object[] = [];
  const log = { child: (bindings: object) => (children.push(bindings), { bindings }) } as unknown as Logger;
  const ctx = {
    catalogue: { name: "catalogue" },
    nodes: { name: "nodes" },
    opts: { hotTtlMs: 1 },
    log,
    cleanupBacklog: { name: "backlog" },
    copier: {
      copy: (...args: unknown[]) => (calls.push(["copy", ...args]), Promise.resolve(["n1"])),
      remove: (...args: unknown[]) => (calls.push(["remove", ...args]), Promise.resolve([])),
    },
    scheduler: {
      add: (...args: unknown[]) => void calls.push(["add", ...args]),
      retryFailed: (...args: unknown[]) => (calls.push(["retryFailed", ...args]), Promise.resolve()),
    },
  } as unknown as JobContext;
  return { ctx, calls, children };
}

test("a job's context names its request in its copies, deletes, queued jobs and log lines", async () => {
  const { ctx, calls, children } = baseContext();
  const job = forRequest(ctx, "req-1");
  expect(job.requestId).toBe("req-1");
  expect(job.catalogue).toBe(ctx.catalogue);
  expect(job.nodes).toBe(ctx.nodes);
  expect(job.opts).toBe(ctx.opts);
  expect(job.cleanupBacklog).toBe(ctx.cleanupBacklog);
  const v = { versionId: "v1" } as never;
  await expect(job.copier.copy(v, ["a"], ["b"], 1, undefined)).resolves.toEqual(["n1"]);
  await job.copier.remove("v1", ["a"]);
  job.scheduler.add("cleanup", "v1", 5, 6);
  await job.scheduler.retryFailed(7);
  expect(calls).toEqual([
    ["copy", v, ["a"], ["b"], 1, undefined, "req-1"],
    ["remove", "v1", ["a"], "req-1"],
    ["add", "cleanup", "v1", 5, 6, "req-1"],
    ["retryFailed", 7],
  ]);
  // The child logger is made once, at the first line: a move that writes none pays nothing for it.
  expect(children).toEqual([]);
  const first = job.log;
  expect(job.log).toBe(first);
  expect(children).toEqual([{ requestId: "req-1" }]);
});

test("work no request caused, or the same request again, keeps the context it was given", () => {
  const { ctx, calls } = baseContext();
  expect(forRequest(ctx, undefined)).toBe(ctx);
  const job = forRequest(ctx, "req-2");
  expect(forRequest(job, "req-2")).toBe(job);
  // Another request's context from this one names that request, not this one, in its node ops.
  const other = forRequest(job, "req-3");
  expect(other.requestId).toBe("req-3");
  return other.copier.remove("v1", ["a"]).then(() => expect(calls).toEqual([["remove", "v1", ["a"], "req-3"]]));
});
