// A stack of this repository's Pulumi project, run with the plain `pulumi` CLI in the repository, as users run it:
// Pulumi.yaml's runtime, main and options, the nodejs language host and the kubernetes plugin from the toolchain, a
// local file backend and the stack's config file in a temporary directory, the admin password in a password file.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, mkdirSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import type { TestPostgres } from "./postgres";

export const REPO = resolve(__dirname, "..", "..", "..");

/** Stack config values by key (without the pg-kopf: prefix); secret ones are encrypted by the CLI. */
export type StackConfig = Record<string, { value: string; secret?: boolean }>;

export interface CliStack {
  readonly name: string;
  readonly dir: string;
  readonly backendDir: string;
  readonly env: Record<string, string>;
  /** Runs `pulumi <args> --stack <name>` in the repository; returns stdout + stderr; throws with both on failure. */
  run(args: string[]): string;
  /** Runs it and returns the exit code and output instead of throwing. */
  tryRun(args: string[]): { status: number; output: string };
  setConfig(key: string, value: string, secret?: boolean): void;
  /** Rewrites the password file the provider reads (after an ALTER ROLE ... PASSWORD). */
  setAdminPassword(password: string): void;
  destroyDir(): void;
}

/** The toolchain's PULUMI_HOME, where the kubernetes plugin is installed. */
function pulumiHome(): string {
  return execFileSync("bash", [join(REPO, "scripts", "toolchain.sh"), "pulumi-home"], { encoding: "utf8" }).trim();
}

/**
 * stack init takes no --config-file: it writes the stack file (with the passphrase's salt) beside Pulumi.yaml, from
 * where it moves at once to the stack's own directory, which every other command is given.
 */
function initStack(name: string, env: Record<string, string>, configFile: string): void {
  const init = spawnSync("pulumi", ["stack", "init", name, "--non-interactive"], { cwd: REPO, env, encoding: "utf8" });
  const initial = join(REPO, `Pulumi.${name}.yaml`);
  if (existsSync(initial)) {
    // Copied, not renamed: the temporary directory may be on another file system (TMPDIR on tmpfs).
    copyFileSync(initial, configFile);
    unlinkSync(initial);
  }
  if (init.status !== 0) throw new Error(`pulumi stack init failed:\n${init.stdout}${init.stderr}`);
}

/** pulumi config set, the value through stdin, never the command line (it may be a password). */
function setStackConfig(name: string, env: Record<string, string>, configFile: string, key: string, value: string, secret: boolean): void {
  const flags = [...(secret ? ["--secret"] : ["--plaintext"]), "--stack", name, "--config-file", configFile, "--non-interactive"];
  const r = spawnSync("pulumi", ["config", "set", `pg-kopf:${key}`, ...flags], { cwd: REPO, env, input: value, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`pulumi config set pg-kopf:${key} failed:\n${r.stdout}${r.stderr}`);
}

/**
 * Creates stack `name` of the repository's project with its own backend and config file, and sets `config`. The
 * admin password for `pulumi up` goes into a password file (PGPASSFILE) for `pg`, never into the config.
 */
export function createCliStack(name: string, pg: TestPostgres, config: StackConfig, extraEnv: Record<string, string> = {}): CliStack {
  const dir = mkdtempSync(join(tmpdir(), "pg-kopf-cli-"));
  const backendDir = join(dir, "state");
  mkdirSync(backendDir);
  const configFile = join(dir, `Pulumi.${name}.yaml`);
  const passfile = join(dir, "pgpass");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? dir,
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: randomBytes(12).toString("hex"),
    PULUMI_HOME: pulumiHome(),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
    PGPASSFILE: passfile,
    ...extraEnv,
  };
  // Commands that read the stack's config take its file; the others (stack export, stack output) refuse the flag.
  const usesConfig = (args: string[]) => !["stack", "plugin"].includes(args[0]);
  const tryRun = (args: string[]) => {
    const flags = usesConfig(args) ? ["--config-file", configFile, "--color", "never"] : [];
    const r = spawnSync("pulumi", [...args, "--stack", name, ...flags, "--non-interactive"], {
      cwd: REPO,
      env,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: r.status ?? 1, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
  };
  const run = (args: string[]) => {
    const r = tryRun(args);
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed (${r.status}):\n${r.output}`);
    return r.output;
  };
  const setAdminPassword = (password: string) => pg.writePasswordFile(passfile, password);
  setAdminPassword(pg.password);
  initStack(name, env, configFile);
  const setConfig = (key: string, value: string, secret = false) => setStackConfig(name, env, configFile, key, value, secret);
  for (const [key, { value, secret }] of Object.entries(config)) setConfig(key, value, secret);
  return {
    name,
    dir,
    backendDir,
    env,
    run,
    tryRun,
    setConfig,
    setAdminPassword,
    destroyDir: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * The config of a local stack that manages the cluster side too: the admin connection to `pg` (non-secret keys),
 * the controller's password as a secret, the Postgres endpoint and the declared databases.
 */
export function clusterStackConfig(pg: TestPostgres, databases: object[], extra: StackConfig = {}): StackConfig {
  return {
    adminHost: { value: pg.host },
    adminPort: { value: String(pg.port) },
    adminUser: { value: pg.user },
    adminSslMode: { value: "disable" },
    adminPassword: { value: pg.password, secret: true },
    // Pods would reach a Postgres on the node through this address; no pod connects in these tests (KWOK).
    postgresHostIp: { value: "192.0.2.10" },
    postgresPort: { value: String(pg.port) },
    postgresSslMode: { value: "disable" },
    imageTag: { value: "local" },
    databases: { value: JSON.stringify(databases) },
    ...extra,
  };
}
