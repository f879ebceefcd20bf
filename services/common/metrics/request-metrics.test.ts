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

describe("request metrics' request counter", () => {
  it("counts every request recorded, and its errors by code, handed over when read", async () => {
    const m = opMetrics("node", "RequestTallyTest");
    for (let i = 0; i < 5; i++) m.record(0.002);
    m.record(0.2, "503");
    const requests = async () =>
      (await registry.getSingleMetric("minis3_requests_total")!.get()).values.find((v) => v.labels.op === "RequestTallyTest")?.value;
    expect(await requests()).toBe(6);
    expect(await requests()).toBe(6); // read again: nothing counted twice
    m.record(0.001);
    const text = await registry.metrics();
    expect(text).toContain('minis3_requests_total{door="node",op="RequestTallyTest"} 7');
    expect(text).toContain('minis3_request_errors_total{door="node",op="RequestTallyTest",code="503"} 1');
    expect(text).toContain('minis3_request_duration_seconds_count{door="node",op="RequestTallyTest"} 7');
    expect(text).toContain('minis3_request_duration_seconds_bucket{le="0.0025",door="node",op="RequestTallyTest"} 6');
  });
});
