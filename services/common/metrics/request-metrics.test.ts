import { opMetrics } from "./request-metrics";
import { registry } from "./registry";

async function bytes(name: string, op: string): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)!.get();
  return metric.values.find((v) => v.labels.door === "node" && v.labels.op === op)?.value;
}

describe("request metrics' byte counters", () => {
  it("count every message's bytes, handed to the counter when it is read", async () => {
    const m = opMetrics("node", "TallyTest");
    m.received.inc(100);
    m.received.inc(23);
    m.sent.inc(7);
    expect(await bytes("minis3_request_bytes_received_total", "TallyTest")).toBe(123);
    expect(await bytes("minis3_request_bytes_sent_total", "TallyTest")).toBe(7);
    // Read again with nothing new: the same totals, nothing counted twice.
    expect(await bytes("minis3_request_bytes_received_total", "TallyTest")).toBe(123);
    m.received.inc(1);
    expect(await registry.metrics()).toContain('minis3_request_bytes_received_total{door="node",op="TallyTest"} 124');
  });
});
