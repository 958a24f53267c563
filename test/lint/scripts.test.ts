// The project's shell scripts (scripts/*.sh, .ci/run), checked with shellcheck at warning level: an unquoted
// expansion or an unused variable in the node or image scripts would otherwise show only on some machine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";

const REPO = resolve(__dirname, "..", "..", "..");
const shellcheck = () => execFileSync("bash", ["-c", "command -v shellcheck"], { encoding: "utf8" }).trim();

test("the project's shell scripts have no shellcheck warnings", () => {
  const scripts = [
    ...readdirSync(join(REPO, "scripts"))
      .filter((f) => f.endsWith(".sh"))
      .map((f) => join(REPO, "scripts", f)),
    join(REPO, ".ci", "run"),
  ];
  assert.ok(scripts.length >= 8, `found ${scripts.join(", ")}`);
  const r = spawnSync(shellcheck(), ["--severity=warning", "--shell=bash", ...scripts], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout);
  const bad = spawnSync(shellcheck(), ["--severity=warning", "--shell=bash", "-"], { input: "x=1\n", encoding: "utf8" });
  assert.equal(bad.status, 1, "shellcheck flags an unused variable at this level");
});
