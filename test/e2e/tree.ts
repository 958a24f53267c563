// Every file under a directory, read as text: what a test searches for a secret that must not be there.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export function allText(dir: string): string {
  return readdirSync(dir)
    .map((f) => join(dir, f))
    .map((p) => (statSync(p).isDirectory() ? allText(p) : readFileSync(p, "utf8")))
    .join("\n");
}
