// Where scripts/toolchain.sh put a tool, so a lint test runs the pinned build and not whatever is on PATH.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "../harness/pulumi";

export function toolchainBin(name: string): string {
  const dirs = execFileSync("bash", [join(REPO, "scripts", "toolchain.sh"), "paths"], { encoding: "utf8" })
    .trim()
    .split("\n");
  const found = dirs.map((d) => join(d, name)).find((p) => existsSync(p));
  if (!found) throw new Error(`${name} is not built: run bash scripts/toolchain.sh`);
  return found;
}
