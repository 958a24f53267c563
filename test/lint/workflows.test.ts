// The GitHub Actions workflows, checked with actionlint (built by scripts/toolchain.sh; it runs shellcheck on every
// `run:` script) and for the properties reviewers and operators rely on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../harness/pulumi";
import { toolchainBin } from "./toolchain";

const WORKFLOWS = join(REPO, ".github", "workflows");
const SETUP = join(REPO, ".github", "actions", "pulumi-setup", "action.yml");
const workflow = (name: string) => readFileSync(join(WORKFLOWS, name), "utf8");
const shellcheck = () => execFileSync("bash", ["-c", "command -v shellcheck"], { encoding: "utf8" }).trim();

function actionlint(files: string[]) {
  return spawnSync(toolchainBin("actionlint"), ["-shellcheck", shellcheck(), "-no-color", ...files], { encoding: "utf8" });
}

test("the workflows have no actionlint or shellcheck findings", () => {
  const r = actionlint(readdirSync(WORKFLOWS).map((f) => join(WORKFLOWS, f)));
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

/** The `run: |` scripts of an action file (actionlint checks those of workflows only). */
function runScripts(yaml: string): string[] {
  const lines = yaml.split("\n");
  const scripts: string[] = [];
  lines.forEach((line, i) => {
    const m = /^(\s*)run: \|$/.exec(line);
    if (!m) return;
    const body: string[] = [];
    for (let j = i + 1; j < lines.length && (lines[j].trim() === "" || lines[j].search(/\S/) > m[1].length); j++)
      body.push(lines[j].trim());
    scripts.push(body.join("\n"));
  });
  return scripts;
}

test("the shared setup action's scripts have no shellcheck findings", () => {
  const scripts = runScripts(readFileSync(SETUP, "utf8"));
  assert.equal(scripts.length, 2);
  for (const script of scripts) {
    const r = spawnSync(shellcheck(), ["--shell=bash", "-"], { input: script, encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + script);
  }
  const bad = spawnSync(shellcheck(), ["--shell=bash", "-"], { input: "ls $HOME/*.txt", encoding: "utf8" });
  assert.equal(bad.status, 1, "shellcheck flags an unquoted expansion");
});

test("actionlint does flag a bad workflow (so the check above can fail)", () => {
  const bad = join(mkdtempSync(join(tmpdir(), "pg-kopf-actionlint-")), "bad.yml");
  writeFileSync(
    bad,
    [
      "on: pull_request",
      "jobs:",
      "  preview:",
      "    runs-on: ubuntu-latest",
      "    steps:",
      "      - uses: actions/setup-node@v5",
      "        with:",
      "          node-versoin: 24",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, the very thing this case is about
      "      - run: echo ${{ github.event.pull_request.title }} && ls $HOME/*.txt",
      "",
    ].join("\n"),
  );
  const r = actionlint([bad]);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /input "node-versoin" is not defined/);
  assert.match(r.stdout, /"github\.event\.pull_request\.title" is potentially untrusted/);
  assert.match(r.stdout, /shellcheck reported issue/);
});

test("secrets reach the steps only through env or an action's input, never inside a script", () => {
  const files = [...readdirSync(WORKFLOWS).map((f) => join(WORKFLOWS, f)), SETUP];
  for (const file of files) {
    for (const line of readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => /secrets\.|inputs\./.test(l))) {
      assert.match(line, /^\s+[A-Za-z_]+: \$\{\{ (secrets|inputs)\.[A-Za-z_]+ \}\}$/, `${file}: ${line.trim()}`);
    }
  }
});

test("the shared setup installs the CLI at the version package.json pins and keeps the kubeconfig private", () => {
  const setup = readFileSync(SETUP, "utf8");
  assert.match(setup, /require\("\.\/package\.json"\)\.dependencies\["@pulumi\/pulumi"\]/);
  assert.match(setup, /uses: pulumi\/actions@v\d+\n\s+with:\n\s+pulumi-version: \$\{\{ steps\.deps\.outputs\.pulumi \}\}/);
  assert.match(setup, /umask 077/);
  for (const name of ["preview.yml", "up.yml"]) assert.match(workflow(name), /uses: \.\/\.github\/actions\/pulumi-setup/, name);
});

test("a version tag publishes the image for amd64 and arm64, with an SBOM and provenance, signed by digest", () => {
  const image = workflow("image.yml");
  assert.match(image, /^on:\n {2}push:\n {4}tags: \["v\[0-9\]/m);
  assert.match(image, /^permissions:\n {2}contents: read\n\n/m, "write access only where the job needs it");
  assert.match(image, /packages: write\n\s+# Keyless signing.*\n\s+id-token: write/);
  assert.match(image, /platforms: linux\/amd64,linux\/arm64/);
  assert.match(image, /sbom: true\n\s+provenance: mode=max/);
  assert.match(image, /cosign sign --yes "\$\{IMAGE\}@\$\{DIGEST\}"/);
  assert.match(image, /file: Dockerfile/, "the image users get is the Dockerfile the tests build");
});

test("pull requests get the preview with its diff as one comment that is updated in place", () => {
  const preview = workflow("preview.yml");
  assert.match(preview, /^on:\n {2}pull_request:/m);
  assert.match(preview, /pulumi preview --diff/);
  assert.match(preview, /updateComment/);
  assert.match(preview, /createComment/);
  assert.match(preview, /^permissions:\n {2}contents: read\n {2}pull-requests: write\n\n/m);
  assert.match(preview, /if: steps\.preview\.outputs\.status != '0'/, "a failed preview fails the check after commenting");
});

test("main runs pulumi up only behind the approval of an environment, one update at a time", () => {
  const up = workflow("up.yml");
  assert.match(up, /^on:\n {2}push:\n {4}branches: \[main\]/m);
  assert.match(up, /^ {4}environment: production$/m);
  assert.match(up, /cancel-in-progress: false/);
  assert.match(up, /pulumi up --yes/);
  assert.match(up, /^permissions:\n {2}contents: read\n\n/m);
});
