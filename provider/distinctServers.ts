// One Postgres is one server entry. Each server's provider is a process of its own that sees only its entry, so the
// program compares them: before any PgDatabase or PgRole of a deployment is registered, every declared server is
// asked who it is (core/server/identity), and the resources of two entries that reach one Postgres, however their addresses
// are spelled, fail the preview naming both. Only programs that declare two servers or more connect here.
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
 * The servers that reach the same Postgres as another declared one, each with the message its resources fail with:
 * the entry that repeats an earlier one (the admin connection first, then pg-kopf:servers in the order given), and
 * that earlier one. A server that cannot be reached is compared with nothing: its own resources say why.
 */
export async function serverConflicts(source: ServerSource): Promise<Map<string, string>> {
  const conflicts = new Map<string, string>();
  const names = declaredServers(source);
  if (names.length < 2) return conflicts;
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
  for (const { entry, same, identity } of core.aliases(entries)) {
    const message =
      `${describeEntry(entry.name, entry.settings!)} reaches the same Postgres as ${describeEntry(same.name, same.settings!)} ` +
      `(${core.describeIdentity(identity)}). One Postgres is one server: remove ${qualified(`${SERVERS_CONFIG_KEY}.${entry.name}`)} ` +
      `and name "${same.name}" as the server of its resources instead. Nothing was changed.`;
    conflicts.set(entry.name, message);
    if (!conflicts.has(same.name)) conflicts.set(same.name, message);
  }
  return conflicts;
}

/** One comparison per deployment (an Automation API process runs several), shared by all its resources. */
const checks = new WeakMap<object, Promise<Map<string, string>>>();

/**
 * Why resources on `server` may not be checked in this deployment (it and another entry are one Postgres), or
 * undefined. The comparison starts on first use; every PgDatabase and PgRole waits for it through this input, and
 * its provider's check fails naming it before any connection.
 */
export function serverConflict(server: string): Promise<string | undefined> {
  const deployment = pulumi.runtime.getStackResource() ?? checks;
  let check = checks.get(deployment);
  if (!check) {
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    check = serverConflicts({ get: (k) => config.get(k), getObject: (k) => config.getObject(k), env: process.env });
    checks.set(deployment, check);
  }
  return check.then((conflicts) => conflicts.get(server));
}
