// One Postgres is one server entry. Each server's provider is a process of its own that sees only its entry, so the
// program compares them: before any PgDatabase or PgRole of a deployment is registered, every declared server is
// asked who it is (core/identity), and two entries that reach one Postgres, however their addresses are spelled,
// fail the preview naming both. Only programs that declare two servers or more connect here.
import * as pulumi from "@pulumi/pulumi";
import * as core from "../core";
import {
  ADMIN_CONFIG_KEYS,
  adminConnection,
  CONFIG_NAMESPACE,
  DEFAULT_SERVER,
  qualified,
  SERVERS_CONFIG_KEY,
  serverProviderInputs,
} from "./config";

/** What the check reads of the stack config and the environment. */
export interface ServerSource {
  get(key: string): string | undefined;
  getObject(key: string): unknown;
  readonly env: NodeJS.ProcessEnv;
}

/** The declared servers: the default one when configured (pg-kopf:adminHost or PGHOST), then pg-kopf:servers. */
export function declaredServers(source: ServerSource): string[] {
  const named = source.getObject(SERVERS_CONFIG_KEY);
  const names = named && typeof named === "object" && !Array.isArray(named) ? Object.keys(named) : [];
  const hasDefault = Boolean(source.get(ADMIN_CONFIG_KEYS.host) || source.env.PGHOST);
  return [...(hasDefault ? [DEFAULT_SERVER] : []), ...names];
}

/** How a message names a server entry: its config key and the address it is spelled with. */
function describeEntry(server: string, settings: core.ConnectionSettings): string {
  const where = `${settings.host}:${settings.port}`;
  return server === DEFAULT_SERVER
    ? `the admin connection (${qualified(ADMIN_CONFIG_KEYS.host)}, ${where})`
    : `server "${server}" (${qualified(`${SERVERS_CONFIG_KEY}.${server}`)}, ${where})`;
}

/**
 * Throws a RunError naming every entry that reaches the same Postgres as an earlier one (the admin connection first,
 * then pg-kopf:servers in the order given) and the fix. A server that cannot be reached is compared with nothing:
 * its own resources say why it cannot be reached.
 */
export async function requireDistinctServers(source: ServerSource): Promise<void> {
  const names = declaredServers(source);
  if (names.length < 2) return;
  const entries = await Promise.all(
    names.map(async (name) => {
      let settings: core.ConnectionSettings | undefined;
      try {
        const inputs = serverProviderInputs(name, source.get, source.getObject);
        settings = adminConnection({ get: (key) => inputs[key] }, source.env);
        return { entry: { name, settings }, identity: await core.observeIdentity(settings) };
      } catch (err) {
        // Malformed entries fail their own resources, naming the key; unreachable ones say why there. Said here too:
        // an alias among them would go unnoticed until it answers.
        pulumi.log.warn(`pg-kopf: server "${name}" was not compared with the other servers: ${core.classifyError(err).message}`);
        return { entry: { name, settings } };
      }
    }),
  );
  const found = core.aliases(entries);
  if (found.length === 0) return;
  const lines = found.map(
    ({ entry, same, identity }) =>
      `${describeEntry(entry.name, entry.settings!)} reaches the same Postgres as ${describeEntry(same.name, same.settings!)} ` +
      `(${core.describeIdentity(identity)}). One Postgres is one server: remove ${qualified(`${SERVERS_CONFIG_KEY}.${entry.name}`)} ` +
      `and name "${same.name}" as the server of its resources instead. Nothing was changed.`,
  );
  throw new pulumi.RunError(`pg-kopf: ${lines.join("\n")}`);
}

/** One comparison per deployment (an Automation API process runs several), shared by all its resources. */
const checks = new WeakMap<object, Promise<void>>();

/** The deployment's comparison, started on first use; every PgDatabase and PgRole waits for it. */
export function distinctServers(): Promise<void> {
  const deployment = pulumi.runtime.getStackResource() ?? checks;
  let check = checks.get(deployment);
  if (!check) {
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    check = requireDistinctServers({ get: (k) => config.get(k), getObject: (k) => config.getObject(k), env: process.env });
    checks.set(deployment, check);
  }
  return check;
}
