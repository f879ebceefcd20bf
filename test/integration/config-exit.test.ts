import { spawnSync } from "node:child_process";
import { compiled } from "../support/compiled";

// What an operator sees when a setting is wrong: the process stops at once, with the usage exit
// status and the variable's name, instead of starting half-configured.

it("a service started with a bad value exits with status 2 and names the variable", () => {
  const r = spawnSync(process.execPath, [compiled("services/coordinator/main.js")], {
    env: { ...process.env, MINIS3_REPLICAS: "two" },
    encoding: "utf8",
    timeout: 20_000,
  });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain("MINIS3_REPLICAS");
});
