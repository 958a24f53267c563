// Every process's arguments while something runs: a child samples /proc/<pid>/cmdline every few milliseconds, so a
// test can say a credential never appeared on any command line (where `ps` would show it to every user).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ArgvSampler {
  /** Stops sampling; every distinct command line seen, its arguments joined by spaces. */
  stop(): Promise<string[]>;
}

const SAMPLER = `
const { readdirSync, readFileSync, writeFileSync } = require("node:fs");
const seen = new Set();
const sample = () => {
  for (const pid of readdirSync("/proc")) {
    if (!/^\\d+$/.test(pid)) continue;
    try { seen.add(readFileSync("/proc/" + pid + "/cmdline", "utf8").split("\\0").join(" ")); } catch {}
  }
};
const timer = setInterval(sample, 5);
process.on("SIGTERM", () => { clearInterval(timer); sample(); writeFileSync(process.argv[1], JSON.stringify([...seen])); process.exit(0); });
`;

export function startArgvSampler(): ArgvSampler {
  const dir = mkdtempSync(join(tmpdir(), "pg-kopf-argv-"));
  const out = join(dir, "seen.json");
  const child = spawn(process.execPath, ["-e", SAMPLER, out], { stdio: "ignore" });
  return {
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => {
          const seen = JSON.parse(readFileSync(out, "utf8")) as string[];
          rmSync(dir, { recursive: true, force: true });
          resolve(seen);
        });
        child.kill("SIGTERM");
      }),
  };
}
