import { execFileSync } from "node:child_process";
import { HashRing } from "../../services/coordinator/placement/hash-ring";
import { compiled } from "../support/compiled";

// Every coordinator computes placement on its own: the ring must not depend on anything a process
// holds (hash seeds, insertion order, Map iteration), or two coordinators would disagree on where a
// key lives. Only a second process shows that.

it("the hash ring gives the same placement in another process", () => {
  const sample = Array.from({ length: 500 }, (_, i) => `default/photos/${i}.jpg`);
  const script = `const { HashRing } = require(${JSON.stringify(compiled("services/coordinator/placement/hash-ring.js"))});
    const r = new HashRing(["storage-2", "storage-3", "storage-1"]);
    process.stdout.write(JSON.stringify(${JSON.stringify(sample)}.map((k) => r.preferenceList(k))));`;
  const other = JSON.parse(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" }));
  const here = new HashRing(["storage-1", "storage-2", "storage-3"]);
  expect(other).toEqual(sample.map((k) => here.preferenceList(k)));
});
