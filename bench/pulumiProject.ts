// The Pulumi projects the Pulumi benchmarks run: a scratch directory with its own node_modules (pg-kopf from npm pack,
// or another package from the npm registry), a program, a local backend, and the plain pulumi CLI run in it.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestPostgres } from "../test/harness/postgres";
import { REPO } from "../test/harness/project";

const manifest = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));

export interface BenchProject {
  readonly dir: string;
  /** Runs `pulumi <args>` on the project's stack; returns the seconds it took, throws with its output if it failed. */
  readonly pulumi: (args: string[]) => number;
}

/** `npm pack` of this repository, into `dir`: what a platform team installs. */
export function packRepository(dir: string): string {
  return `file:./${execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: REPO, encoding: "utf8" }).trim().split("\n").pop()}`;
}

/** A scratch project with `dependencies` installed (the same @pulumi/pulumi as this repository's). */
export function scratchDir(name: string, dependencies: (dir: string) => Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), `pg-kopf-bench-${name}-`));
  const deps = { "@pulumi/pulumi": manifest.dependencies["@pulumi/pulumi"], ...dependencies(dir) };
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `bench-${name}`, private: true, dependencies: deps }));
  execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: "pipe" });
  return dir;
}

/**
 * The project in `dir`: Pulumi.yaml (with `options`), the program `index.js`, stack `bench` on a local backend, and
 * stack config `config`. The admin password reaches pg-kopf through the password file and others through PGPASSWORD.
 */
export function benchProject(
  dir: string,
  pg: TestPostgres,
  program: string,
  config: Record<string, string>,
  options: Record<string, string> = {},
): BenchProject {
  const yamlOptions = Object.entries(options).map(([k, v]) => `  ${k}: ${v}\n`);
  writeFileSync(
    join(dir, "Pulumi.yaml"),
    `name: bench\nruntime: nodejs\nmain: index.js\n${yamlOptions.length ? `options:\n${yamlOptions.join("")}` : ""}`,
  );
  writeFileSync(join(dir, "index.js"), program);
  const backend = join(dir, ".state");
  mkdirSync(backend, { recursive: true });
  const passfile = join(dir, "pgpass");
  pg.writePasswordFile(passfile);
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? dir,
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: "bench",
    PULUMI_HOME: execFileSync("bash", [join(REPO, "scripts", "toolchain.sh"), "pulumi-home"], { encoding: "utf8" }).trim(),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
    PGPASSFILE: passfile,
    PGPASSWORD: pg.password,
  };
  const pulumi = (args: string[]): number => {
    const started = performance.now();
    const r = spawnSync("pulumi", [...args, "--stack", "bench", "--non-interactive"], { cwd: dir, env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} in ${dir} failed:\n${r.stdout}${r.stderr}`);
    return (performance.now() - started) / 1000;
  };
  const selected = spawnSync("pulumi", ["stack", "select", "bench", "--non-interactive"], { cwd: dir, env, encoding: "utf8" });
  if (selected.status !== 0) pulumi(["stack", "init"]);
  for (const [k, v] of Object.entries(config)) pulumi(["config", "set", k, v]);
  return { dir, pulumi };
}

/** pg-kopf's documented admin keys for `pg`. */
export function pgKopfConfig(pg: TestPostgres): Record<string, string> {
  return {
    "pg-kopf:adminHost": pg.host,
    "pg-kopf:adminPort": String(pg.port),
    "pg-kopf:adminUser": pg.user,
    "pg-kopf:adminSslMode": "disable",
  };
}

/** The state's bytes per resource of `type`, and of them the serialized provider (inputs and outputs). */
export function stateFigures(
  project: BenchProject,
  type: string,
): { checkpoint: number; perResource: number; providerPerResource: number } {
  const file = join(project.dir, "state.json");
  project.pulumi(["stack", "export", "--file", file]);
  const text = readFileSync(file, "utf8");
  const resources = JSON.parse(text).deployment.resources.filter((r: { type: string }) => r.type === type);
  const providerText = (p: { __provider?: string } | undefined) => p?.__provider?.length ?? 0;
  const provider = resources.reduce(
    (sum: number, r: { inputs?: { __provider?: string }; outputs?: { __provider?: string } }) =>
      sum + providerText(r.inputs) + providerText(r.outputs),
    0,
  );
  const total = resources.reduce((sum: number, r: unknown) => sum + JSON.stringify(r).length, 0);
  const n = Math.max(resources.length, 1);
  return { checkpoint: text.length, perResource: total / n, providerPerResource: provider / n };
}
