// The controller image's Dockerfile, checked with BuildKit's linter (built by scripts/toolchain.sh) and for the
// properties the deployment relies on. The image itself cannot be built here: there is no container engine.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../harness/pulumi";
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

test("the build stage compiles from what it copies alone, and the controller needs nothing it uninstalls", () => {
  // Regression: a controller module importing from provider/ compiled here (tsc follows imports) and not in the image.
  const build = dockerfile.slice(0, dockerfile.indexOf("\nFROM ", dockerfile.indexOf("FROM ") + 1));
  const copied = [...build.matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) => m[1].split(" "));
  const dir = mkdtempSync(join(tmpdir(), "pg-kopf-image-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  for (const path of copied) cpSync(join(REPO, path), join(dir, path), { recursive: true });
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  const tsc = spawnSync(process.execPath, [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.controller.json"], {
    cwd: dir,
    encoding: "utf8",
  });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  const uninstalled = [.../npm uninstall [^@]*((?:@\S+ ?)+)/.exec(build)![1].trim().split(" ")];
  assert.deepEqual(uninstalled, ["@pulumi/pulumi", "@pulumi/kubernetes"]);
  const compiled = readdirSync(join(dir, "dist"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".js"));
  assert.ok(compiled.includes(join("controller", "main.js")));
  for (const file of compiled) {
    const text = readFileSync(join(dir, "dist", file), "utf8");
    for (const pkg of uninstalled) assert.ok(!text.includes(`require("${pkg}`), `${file} requires ${pkg}, which the image removes`);
  }
});
