// The TypeScript is formatted and linted by Biome (one tool for both, configured in biome.json): a finding fails
// the suite, and a case per kind proves the check can fail. Among the rules: no source function over 60 lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../harness/pulumi";

const biome = (args: string[], cwd = REPO) =>
  spawnSync(join(REPO, "node_modules", ".bin", "biome"), [args[0], "--colors=off", ...args.slice(1)], { cwd, encoding: "utf8" });

test("the code is formatted and has no lint findings (npx biome check --write . fixes most)", () => {
  const r = biome(["ci", "."]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("a badly formatted file and a lint finding are both caught (so the check above can fail)", () => {
  const dir = mkdtempSync(join(tmpdir(), "pg-kopf-biome-"));
  copyFileSync(join(REPO, "biome.json"), join(dir, "biome.json"));
  writeFileSync(join(dir, "ugly.ts"), "export const x = {a:1,\n  b:2}\n");
  writeFileSync(join(dir, "bad.ts"), "export function f(a: number) {\n  if (a = 1) return a;\n  return 0;\n}\n");
  // A source function over 60 lines (tests and benchmarks are exempt: each reads as one story, top to bottom).
  const body = Array.from({ length: 61 }, (_, i) => `  total += ${i};`).join("\n");
  writeFileSync(join(dir, "long.ts"), `export function g(): number {\n  let total = 0;\n${body}\n  return total;\n}\n`);
  const r = biome(["ci", "--config-path", dir, dir], dir);
  assert.notEqual(r.status, 0);
  assert.match(r.stdout + r.stderr, /ugly\.ts format/);
  assert.match(r.stdout + r.stderr, /noAssignInExpressions/);
  assert.match(r.stdout + r.stderr, /long\.ts.*noExcessiveLinesPerFunction/);
});
