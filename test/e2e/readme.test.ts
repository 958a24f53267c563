// The README's first command, run exactly as written: it must bring everything up (the controller as a pod on a real
// node), show the sample database Ready, and tear down cleanly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "../harness/pulumi";

test("README: the run command works as written", () => {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const command = /^```sh\n(npm start)\n/m.exec(readme)?.[1];
  assert.equal(command, "npm start", "the README opens with npm start");
  const r = spawnSync("npm", ["start"], { cwd: REPO, encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000));
  assert.match(r.stdout, /default\s+mynewdb\s+mynewdb\s+True/);
  // The controller ran as the Deployment's pod, on the real node, from the image the run built.
  assert.match(r.stdout, /pg-kopf-controller-\S+\s+1\/1\s+Running\s+0\s+\S+\s+10\.250\.\d+\.\d+\s+pg-kopf-node-\d/);
  assert.match(r.stdout, /app\s+owner app_owner\s+managed by pg-kopf: pulumi:pg-kopf\/local/);
  assert.match(r.stdout, /app_owner\s+login\s+managed by pg-kopf: pulumi:pg-kopf\/local/);
  assert.match(r.stdout, /mynewdb\s+owner postgres\s+managed by pg-kopf: kubernetes:default\/mynewdb/);
  assert.match(r.stdout, /tearing down/);
});
