// A Pulumi workspace for end-to-end tests: the real CLI (from the toolchain) on a local file backend in a
// temporary directory, fully offline, running the project's program inline through the Automation API.
import { execFileSync } from "node:child_process";
import { mkdtempSync, symlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { program } from "../../infra/program";
import type { TestPostgres } from "./postgres";
import { REPO } from "./project";

export { REPO };

export interface TestStack {
  readonly stack: Stack;
  readonly dir: string;
  readonly backendDir: string;
  readonly passphrase: string;
  readonly env: Record<string, string>;
  /** Runs the pulumi CLI itself in the stack's directory and environment; returns stdout, throws on failure. */
  cli(args: string[]): string;
  destroyDir(): void;
}

export type StackConfig = Record<string, { value: string; secret?: boolean }>;

/**
 * A stack that manages only databases: the admin connection to `pg` (no password: the provider reads it from the
 * password file the stack's environment names) and the declared databases.
 */
export function localStackConfig(pg: TestPostgres, databases: object[]): StackConfig {
  return {
    manageCluster: { value: "false" },
    adminHost: { value: pg.host },
    adminPort: { value: String(pg.port) },
    adminUser: { value: pg.user },
    adminSslMode: { value: "disable" },
    databases: { value: JSON.stringify(databases) },
  };
}

/**
 * Creates stack `name` of project pg-kopf in a fresh directory, running infra/program.ts inline. The directory
 * links the project's build and node_modules, because the dynamic provider process loads them from its working
 * directory, exactly as in a checkout.
 */
/** A stack of the project's program (or of `run`, an inline program of the test's own) in a directory of its own. */
export async function createTestStack(
  name: string,
  config: StackConfig,
  pg: TestPostgres,
  run: () => unknown = () => program(),
): Promise<TestStack> {
  const dir = mkdtempSync(join(tmpdir(), "pg-kopf-stack-"));
  const passfile = join(dir, "pgpass");
  pg.writePasswordFile(passfile);
  symlinkSync(join(REPO, "dist"), join(dir, "dist"));
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  // The provider process finds pg-kopf's build from the project's package.json, as in a checkout.
  symlinkSync(join(REPO, "package.json"), join(dir, "package.json"));
  const backendDir = join(dir, ".state");
  const passphrase = randomBytes(12).toString("hex");
  const env: Record<string, string> = {
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: passphrase,
    PULUMI_HOME: join(dir, ".pulumi-home"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
    // Node 24 for the dynamic provider process too.
    PATH: process.env.PATH ?? "",
    // The admin password, as psql would find it.
    PGPASSFILE: passfile,
  };
  require("node:fs").mkdirSync(backendDir);
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: name, projectName: "pg-kopf", program: async () => (await run()) as Record<string, unknown> | undefined },
    {
      workDir: dir,
      envVars: env,
      // The same options as Pulumi.yaml: refresh before every preview and up.
      projectSettings: {
        name: "pg-kopf",
        runtime: { name: "nodejs" },
        backend: { url: env.PULUMI_BACKEND_URL },
        options: { refresh: "always" },
      } as never,
    },
  );
  await stack.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`pg-kopf:${k}`, v])));
  const cli = (args: string[]) =>
    execFileSync("pulumi", [...args, "--stack", name, "--non-interactive"], {
      cwd: dir,
      env: { ...process.env, ...env },
      encoding: "utf8",
    });
  return { stack, dir, backendDir, passphrase, env, cli, destroyDir: () => rmSync(dir, { recursive: true, force: true }) };
}
