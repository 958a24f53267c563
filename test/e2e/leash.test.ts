// Regression: when `npm start` or a test run was killed hard (SIGKILL, a CI timeout), what it had started outlived
// it: a controller and two Postgres servers were still running minutes later. Here a harness process starts a
// Postgres (a daemon, through pg_ctl) and a child of its own, and is killed with SIGKILL: both must go.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { REPO } from "../harness/pulumi";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("a harness killed with SIGKILL leaves neither its Postgres nor its children running", async () => {
  const local = join(REPO, "dist", "test", "harness");
  const script = `
    const { spawn } = require("node:child_process");
    const { startPostgres } = require(${JSON.stringify(join(local, "postgres.js"))});
    const { tie } = require(${JSON.stringify(join(local, "leash.js"))});
    startPostgres().then((pg) => {
      const child = spawn("sleep", ["600"], { stdio: "ignore" });
      tie(child.pid);
      const postmaster = require("node:fs").readFileSync(pg.dataDir + "/postmaster.pid", "utf8").split("\\n")[0];
      console.log("READY " + postmaster + " " + child.pid);
    });
    setInterval(() => undefined, 1000);`;
  const harness = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const pids = await new Promise<number[]>((resolve, reject) => {
    let out = "";
    harness.stdout!.on("data", (d) => {
      out += d;
      const m = /READY (\d+) (\d+)/.exec(out);
      if (m) resolve([Number(m[1]), Number(m[2])]);
    });
    harness.once("exit", (code) => reject(new Error(`harness exited (${code}) before it was ready: ${out}`)));
  });
  assert.ok(pids.every(alive), "both running while the harness is");
  harness.kill("SIGKILL");
  const deadline = Date.now() + 15_000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(pids.filter(alive), [], "Postgres and the child are gone after the harness was killed");
});
