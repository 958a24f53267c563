// A PgRole whose password never leaves the provider: generated here, written to a Kubernetes Secret apps mount (the
// keys the controller writes for a PgRole object), set on the role as a verifier, and recorded in the state only as
// where the Secret is and the version of it. The engine never carries it, so no trace of the engine (-v=11,
// PULUMI_DEBUG_GRPC) can show it. The Secret is reached with the provider process's KUBECONFIG (as kubectl does).
import type * as pulumi from "@pulumi/pulumi";
import {
  changedKeys,
  credentialKeys,
  type Endpoint,
  MANAGED_BY_LABEL,
  passwordOf,
  type SecretObject,
  SECRET_TYPE,
  secretData,
} from "../../controller/role/credentials";
import { KubeClient } from "../../controller/kube/client";
import { loadKubeTarget } from "../../controller/kube/config";
import { SecretApi } from "../../controller/role/secrets";
import * as core from "../../core";
import { DEFAULT_POOLER_PORT } from "../../crd/pgserver";
import { caPathIn } from "../../crd/pgrole";
import { databasesFailures } from "../../core/role/secretTemplate";

/** Where the credentials go, as the credentialsSecret input says. */
export interface SecretTarget {
  readonly name: string;
  readonly namespace: string;
  /** The address apps use (default: the provider's admin host and port, which apps may not reach by). */
  readonly host?: string;
  readonly port?: number;
  /** The database the keys point at (dbname, uri, jdbc-uri, pgpass), and more, each under keys `<database>.`. */
  readonly database?: string;
  readonly databases?: readonly string[];
  /** A pooler in front of the server (PgBouncer): the keys point at it, host and port under direct-*. */
  readonly pooler?: { readonly host: string; readonly port?: number };
  /** Where apps mount the Secret: the URIs' sslrootcert (<mountPath>/ca.crt) and {{ sslrootcert }}, with a CA. */
  readonly mountPath?: string;
}

/** On the Secret: the manager of the role it holds the password of; a Secret without it is never written. */
export const SECRET_MANAGER_ANNOTATION = "pgroles.my.local/manager";
/** The inputs of this mode, and the template of the keys apps read, kept out of the role's spec. */
export const SECRET_INPUTS = ["credentialsSecret", "rotate", "rotateEvery", "secretTemplate", "twoCredentials"] as const;

/** The secretTemplate input (checked by check: core/role/secretTemplate). */
export function templateOf(props: Record<string, unknown>): Record<string, string> | undefined {
  const t = props.secretTemplate;
  return t && typeof t === "object" && !Array.isArray(t) ? (t as Record<string, string>) : undefined;
}

/** Where apps reach the server and how: the Secret's address, else the admin connection's, and its TLS and Kerberos. */
export function endpointOf(t: SecretTarget | undefined, settings: core.ConnectionSettings): Endpoint {
  return {
    host: t?.host ?? settings.host,
    port: t?.port ?? settings.port,
    maintenanceDatabase: settings.database ?? "postgres",
    sslmode: settings.sslmode,
    ...(settings.sslrootcert ? { ca: settings.sslrootcert, ...(t?.mountPath ? { caPath: caPathIn(t.mountPath) } : {}) } : {}),
    ...(settings.gssencmode ? { gssencmode: settings.gssencmode } : {}),
    ...(settings.krbsrvname ? { krbsrvname: settings.krbsrvname } : {}),
    ...(t?.pooler ? { pooler: { host: t.pooler.host, port: t.pooler.port ?? DEFAULT_POOLER_PORT } } : {}),
  };
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const isPort = (v: unknown) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;

/** The credentialsSecret input, checked; failures name the field and the fix. */
export function parseTarget(news: Record<string, unknown>): { target?: SecretTarget; failures: pulumi.dynamic.CheckFailure[] } {
  const value = news.credentialsSecret;
  if (value === undefined || value === null) return { failures: [] };
  const fail = (property: string, reason: string) => ({ failures: [{ property, reason: `${property}: ${reason}` }] });
  if (typeof value !== "object" || Array.isArray(value)) return fail("credentialsSecret", "expected {name, namespace, host?, port?}");
  const t = value as Record<string, unknown>;
  const known = ["name", "namespace", "host", "port", "database", "databases", "pooler", "mountPath"];
  const unknown = Object.keys(t).filter((k) => !known.includes(k));
  if (unknown.length) return fail(`credentialsSecret.${unknown[0]}`, `unknown field; expected ${known.join(", ")}`);
  if (t.mountPath !== undefined && (typeof t.mountPath !== "string" || !t.mountPath.startsWith("/")))
    return fail("credentialsSecret.mountPath", "expected the absolute path where apps mount this Secret, such as /etc/pg-kopf");
  const databasesFailed = databasesFailures(t.database, t.databases, "credentialsSecret");
  if (databasesFailed.length) return { failures: databasesFailed.map((f) => ({ property: f.field, reason: `${f.field}: ${f.message}` })) };
  if (typeof t.name !== "string" || !DNS_SUBDOMAIN.test(t.name))
    return fail("credentialsSecret.name", `${JSON.stringify(t.name)} is not a Secret name (lower-case letters, digits, - and .)`);
  if (typeof t.namespace !== "string" || !DNS_LABEL.test(t.namespace))
    return fail("credentialsSecret.namespace", `${JSON.stringify(t.namespace)} is not a namespace name`);
  if (t.host !== undefined && (typeof t.host !== "string" || t.host === ""))
    return fail("credentialsSecret.host", "expected the host name apps reach Postgres by");
  if (t.port !== undefined && !isPort(t.port)) return fail("credentialsSecret.port", `${JSON.stringify(t.port)} is not a TCP port`);
  const pooler = t.pooler as Record<string, unknown> | undefined;
  if (pooler !== undefined && (typeof pooler !== "object" || typeof pooler.host !== "string" || pooler.host === ""))
    return fail("credentialsSecret.pooler", 'expected {host: "<the pooler\'s host name>", port: 6432}');
  if (pooler?.port !== undefined && !isPort(pooler.port))
    return fail("credentialsSecret.pooler.port", `${JSON.stringify(pooler.port)} is not a TCP port`);
  if (typeof news.password === "string")
    return fail(
      "credentialsSecret",
      "set either password (yours, kept in the state as a secret) or credentialsSecret (generated, kept out of the state and the engine), not both",
    );
  if (news.login === false)
    return fail("credentialsSecret", "a role with login: false has no password to deliver; remove credentialsSecret");
  return { target: t as unknown as SecretTarget, failures: [] };
}

export function targetOf(props: Record<string, unknown>): SecretTarget | undefined {
  const t = props.credentialsSecret;
  return t && typeof t === "object" ? (t as SecretTarget) : undefined;
}

/**
 * Whether two credentialsSecret inputs name one Secret: where the password goes. The address, databases and pooler
 * its keys point at are not where: a change of them rewrites the keys, the password kept (staleKeys).
 */
export function sameTarget(a: SecretTarget | undefined, b: SecretTarget | undefined): boolean {
  if (!a || !b) return a === b;
  return a.name === b.name && a.namespace === b.namespace;
}

/** The Secrets API as the user's KUBECONFIG reaches it, the way the controller reads and writes its own. */
const secrets = () => new SecretApi(new KubeClient(loadKubeTarget(process.env)));

/** On the Secret: when its password was set on the role, so that check (which sees only inputs) knows its age. */
export const PASSWORD_SET_AT_ANNOTATION = "pgroles.my.local/password-set-at";

/** The Secret's version, or undefined when it is gone. */
export async function secretVersion(t: SecretTarget): Promise<string | undefined> {
  return (await secrets().get(t.namespace, t.name))?.metadata.resourceVersion;
}

/** The Secret as it is, or undefined when it is gone. */
export function readSecret(t: SecretTarget): Promise<SecretObject | undefined> {
  return secrets().get(t.namespace, t.name);
}

/** The Secret's version and when its password was set, or undefined when it is gone. */
export async function secretState(t: SecretTarget): Promise<{ version?: string; passwordSetAt?: string } | undefined> {
  return stateOf(await readSecret(t));
}

/** A Secret's version and when its password was set. */
export function stateOf(secret: SecretObject | undefined): { version?: string; passwordSetAt?: string } | undefined {
  if (!secret) return undefined;
  // A Secret written before the time was recorded: its password is at most as old as the Secret.
  const at = secret.metadata.annotations?.[PASSWORD_SET_AT_ANNOTATION] ?? secret.metadata.creationTimestamp;
  return { version: secret.metadata.resourceVersion, ...(at ? { passwordSetAt: at } : {}) };
}

/**
 * The keys of the Secret that are not what they would be written now, by name (never a value), its password kept: a
 * new address, TLS mode or CA, pooler, database or template. None when the Secret is gone or (a password role) holds
 * no password: that is a rotation.
 */
export async function staleKeys(
  t: SecretTarget,
  settings: core.ConnectionSettings,
  role: string,
  withPassword: boolean,
  template: Record<string, string> | undefined,
): Promise<string[]> {
  const secret = await secrets().get(t.namespace, t.name);
  const password = passwordOf(secret);
  if (!secret || (withPassword && !password)) return [];
  const keys = credentialKeys(role, password, endpointOf(t, settings), t.database, { template, databases: t.databases });
  return changedKeys(secret, keys);
}

/** The password the Secret holds, or undefined when it is gone or holds none. */
export async function storedPassword(t: SecretTarget): Promise<string | undefined> {
  return passwordOf(await secrets().get(t.namespace, t.name));
}

/** Refuses (InvalidSpec, naming the field) a Secret of that name that is not this manager's: it is left alone. */
export function refuseForeign(existing: SecretObject | undefined, t: SecretTarget, manager: string): void {
  if (!existing || existing.metadata.annotations?.[SECRET_MANAGER_ANNOTATION] === manager) return;
  throw new core.InvalidSpec([
    {
      field: "credentialsSecret",
      message: `Secret ${t.namespace}/${t.name} exists and is not this role's (no ${SECRET_MANAGER_ANNOTATION}: ${manager}), so it was left alone and the role was not created or changed. Set credentialsSecret.name to a name no Secret has, or delete that Secret if it is really unused.`,
    },
  ]);
}

/**
 * Writes the role's credentials to the Secret (created, or replaced when it is this manager's); returns its new
 * version. A Secret of that name that is not the manager's is left alone, and nothing is set on the role.
 */
export async function writeCredentials(
  t: SecretTarget,
  settings: core.ConnectionSettings,
  role: string,
  password: string | undefined,
  manager: string,
  template?: Record<string, string>,
  passwordSetAt?: string,
  /** More annotations: with two credentials, the previous one (controller/role/turns). */
  annotations: Record<string, string> = {},
): Promise<string> {
  const api = secrets();
  const existing = await api.get(t.namespace, t.name);
  refuseForeign(existing, t, manager);
  const keys = credentialKeys(role, password, endpointOf(t, settings), t.database, { template, databases: t.databases });
  const body: SecretObject = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: t.name,
      namespace: t.namespace,
      ...(existing?.metadata.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}),
      labels: { ...MANAGED_BY_LABEL },
      annotations: {
        ...annotations,
        [SECRET_MANAGER_ANNOTATION]: manager,
        ...(passwordSetAt ? { [PASSWORD_SET_AT_ANNOTATION]: passwordSetAt } : {}),
      },
    },
    type: SECRET_TYPE,
    data: secretData(keys),
  };
  const written = existing ? await api.replace(body) : await api.create(body);
  return written.metadata.resourceVersion ?? "";
}

/** Deletes the Secret if it is this manager's; another's, or none, is left as it is. */
export async function deleteCredentials(t: SecretTarget, manager: string): Promise<void> {
  const api = secrets();
  const existing = await api.get(t.namespace, t.name);
  if (existing?.metadata.annotations?.[SECRET_MANAGER_ANNOTATION] !== manager) return;
  await api.delete(t.namespace, t.name);
}
