// Checked-in expected output of the CLI (test/e2e/golden): normalizing what varies between runs, and comparing.
// UPDATE_GOLDEN=1 rewrites a file when a change is intended.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "../harness/pulumi";

export const GOLDEN = join(REPO, "test", "e2e", "golden");

/**
 * Removes what changes from run to run: timings, progress lines, and the order of resource blocks (the engine
 * runs steps in parallel, so it prints them as they finish); blocks are sorted by URN.
 */
export function normalize(text: string): string {
  const lines = text
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing terminal colour codes is the point
    .replace(/\x1b\[[0-9;]*m/g, "")
    .split("\n")
    // Progress lines, timings and await messages come and go with the speed of the machine.
    .filter((l) => !/^@ /.test(l) && !/^\s*Duration:/.test(l) && !/^Deployment initialization complete$/.test(l))
    // A provider reference ends with the provider's id, new in every stack.
    .map((l) => l.replace(/(::pulumi:providers:[^:\]]+::[^:\]]+::)[0-9a-f-]{36}/, "$1<id>"))
    .map((l) => l.replace(/\(\d+(\.\d+)?s\)/g, "(Ns)").replace(/\s+$/, ""));
  const out: string[] = [];
  let blocks: string[][] = [];
  const flush = () => {
    const urn = (b: string[]) => b.find((l) => l.includes("[urn=")) ?? "";
    for (const b of blocks.sort((x, y) => urn(x).localeCompare(urn(y)))) out.push(...b);
    blocks = [];
  };
  for (const line of lines) {
    // A resource step nested under the stack: "    + type: (create)", with its properties indented below it.
    if (/^ {4}[+~-] \S+: \(/.test(line)) blocks.push([line]);
    else if (blocks.length && /^ {6}/.test(line)) blocks[blocks.length - 1].push(line);
    else {
      flush();
      out.push(line);
    }
  }
  flush();
  return `${out
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim()}\n`;
}

export function compare(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, "utf8"), `${name} differs; if the change is intended, run with UPDATE_GOLDEN=1`);
}
