// The controller image's Dockerfile, checked with BuildKit's linter (built by scripts/toolchain.sh) and for the
// properties the deployment relies on. The image itself cannot be built here: there is no container engine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../../scripts/local/pulumi";
import { toolchainBin } from "./toolchain";
import { CONTROLLER_ARGS } from "../../infra/operator";

const linter = () => toolchainBin("dockerfile-lint");
const dockerfile = readFileSync(join(REPO, "Dockerfile"), "utf8");

test("the Dockerfile has no lint findings", () => {
  const r = spawnSync(linter(), [join(REPO, "Dockerfile")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("the linter does flag a bad Dockerfile (so the check above can fail)", () => {
  const bad = join(mkdtempSync(join(tmpdir(), "pg-kopf-lint-")), "Dockerfile");
  writeFileSync(bad, "FROM node:24 as build\nCMD node main.js\n");
  const r = spawnSync(linter(), [bad], { encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /FromAsCasing/);
  assert.match(r.stdout, /JSONArgsRecommended/);
});

test("the runtime stage is distroless, non-root, and starts the controller without a shell", () => {
  const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
  assert.match(runtime, /FROM \S*distroless\/nodejs24\S*:nonroot/);
  assert.match(runtime, /^USER 65532:65532$/m);
  // The image run on its own (docker run) behaves as the Deployment runs it: the same node flags and entry point.
  const cmd = /^CMD (\[.*\])$/m.exec(runtime)?.[1];
  assert.deepEqual(cmd && JSON.parse(cmd), CONTROLLER_ARGS);
  assert.doesNotMatch(runtime, /^RUN /m, "nothing runs in the runtime stage (it has no shell)");
  assert.match(dockerfile, /npm prune --omit=dev/);
});
