// The Postgres servers the controller reaches: the default one from its environment, and one per PgServer object,
// each with its own bounded pool. Every PgServer is checked on its own timer (its credentials and CA read again, so
// a change takes effect without a restart) and its status written; resolve() hands a reconcile its server's
// connection, or the reason it cannot have one (no such server, not open to its namespace, not Ready) at once,
// without waiting on a server that is down.
import { createHash } from "node:crypto";
import * as core from "../../core";
import {
  DEFAULT_CA_KEY,
  DEFAULT_KEYTAB_KEY,
  DEFAULT_POOLER_PORT,
  DEFAULT_KRB5_CONF_KEY,
  parsePgServerSpec,
  type ResolvedServerSpec,
} from "../../crd/pgserver";
import { DEFAULT_SERVER } from "../../crd/server";
import type { Endpoint } from "../role/credentials";
import { apiError, type KubeClient } from "../kube/client";
import { Informer } from "../kube/informer";
import { describeSelector, matchesSelector } from "../kube/labelSelector";
import { PG_SERVER, type PgServerObject, type PgServerStatus } from "../runtime/objects";
import { ResourceApi } from "../runtime/writes";
import { buildStatus, readyReason, recordEvent, type ServerReason, type Verdict, writeStatus } from "../runtime/status";

/** What a reconcile needs of its server: the admin connection, and the address written into credentials Secrets. */
export interface ServerConnection {
  readonly settings: core.ConnectionSettings;
  readonly endpoint: Endpoint;
}

export interface ServerRegistryOptions {
  /** The server objects name when they name none: the controller's own connection. */
  readonly defaultServer: ServerConnection;
  /** Where a PgServer's Secret and CA are read when it names no namespace, and the only namespace served by default. */
  readonly controllerNamespace: string;
  readonly checkIntervalMs: number;
  readonly log: { info(o: object, m: string): void; warn(o: object, m: string): void };
  readonly reporter: string;
  /** A server's state changed (Ready or not, or gone): the objects on it can say so, or go on, now. */
  readonly onChange: (server: string) => void;
  /** Each check's outcome (undefined: the server is gone), for the metrics. */
  readonly onChecked?: (server: string, ready: boolean | undefined) => void;
  readonly onError?: () => void;
}

interface ServerEntry {
  obj: PgServerObject;
  /** The latest object's spec, parsed once per version of it. */
  parsed: ReturnType<typeof parsePgServerSpec>;
  connection?: ServerConnection & { readonly fingerprint: string };
  verdict?: Verdict<PgServerStatus> & { reason: ServerReason | "InvalidSpec" };
  checking?: Promise<void>;
  /** Who the server said it is at its last successful connection (core/server/identity). */
  identity?: core.ServerIdentity;
}

/** A PgServer's Secret or CA could not be read: the reason, and the message naming the object and the fix. */
class ServerSetupError extends Error {
  constructor(
    readonly reason: "CredentialsNotFound" | "CANotFound",
    message: string,
  ) {
    super(message);
  }
}

/** The reason a failed check gives the PgServer, from the core's classification of the failure. */
const SERVER_REASONS: Partial<Record<core.FailureReason, ServerReason>> = {
  PostgresUnavailable: "Unreachable",
  AuthenticationFailed: "AuthenticationFailed",
  TlsFailed: "TLSVerificationFailed",
};

export class ServerRegistry {
  private readonly entries = new Map<string, ServerEntry>();
  private readonly informer: Informer<PgServerObject>;
  private readonly api: ResourceApi;
  private readonly namespaces = new Map<string, { labels: Record<string, string>; at: number }>();
  private timer: NodeJS.Timeout | undefined;
  private hasSynced = false;
  private firstChecks: (() => void) | undefined;
  /** The controller's own server's identity as last asked, for SameServer (see defaultIdentity). */
  private defaultSeen: { identity: Promise<core.ServerIdentity | undefined>; at: number } | undefined;

  constructor(
    private readonly kube: KubeClient,
    private readonly options: ServerRegistryOptions,
  ) {
    this.api = new ResourceApi(kube, PG_SERVER);
    this.informer = new Informer<PgServerObject>(kube, ResourceApi.collection(PG_SERVER), {
      onAdd: (obj) => this.follow(obj, true),
      // Our own status writes come back too: only a new spec is checked at once.
      onUpdate: (obj, old) => this.follow(obj, obj.metadata.generation !== old.metadata.generation),
      onDelete: (obj) => {
        const entry = this.entries.get(obj.metadata.name);
        this.entries.delete(obj.metadata.name);
        void entry?.connection?.settings.pool?.end().catch(() => undefined);
        options.onChecked?.(obj.metadata.name, undefined);
        options.onChange(obj.metadata.name);
        // A server refused as the same Postgres as this one may be the one to use now.
        for (const [name, other] of this.entries) if (other.verdict?.reason === "SameServer") void this.check(name);
      },
      onSynced: () => {
        if (this.hasSynced) return;
        this.hasSynced = true;
        // Every server of the first list checked once (each bounded by its connect timeout), so that objects are
        // first reconciled against a known state rather than "not checked yet".
        void Promise.all([...this.entries.values()].map((e) => e.checking)).then(() => this.firstChecks?.());
      },
      onError: (err, retryInMs) => {
        options.onError?.();
        options.log.warn({ kind: PG_SERVER.kind, err: (err as Error)?.message ?? String(err), retryInMs }, "watch failed; listing again");
      },
    });
  }

  get synced(): boolean {
    return this.hasSynced;
  }

  /**
   * Keeps the latest object and its parsed spec (so tenancy is always decided on the spec as it is now), and checks
   * the server when asked. An entry is made once per name: its pool lives until the object is deleted.
   */
  private follow(obj: PgServerObject, check: boolean): void {
    const name = obj.metadata.name;
    const parsed = parsePgServerSpec(obj.spec);
    const entry = this.entries.get(name) ?? { obj, parsed };
    this.entries.set(name, entry);
    entry.obj = obj;
    entry.parsed = parsed;
    if (check) void this.check(name);
  }

  /** Starts following PgServers; resolves once each of the first list has been checked. */
  start(): Promise<void> {
    const checked = new Promise<void>((resolve) => {
      this.firstChecks = resolve;
    });
    this.informer.start();
    this.timer = setInterval(() => {
      for (const name of this.entries.keys()) void this.check(name);
    }, this.options.checkIntervalMs);
    this.timer.unref();
    return checked;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.informer.stop();
    await Promise.all([...this.entries.values()].map((e) => e.checking));
    await Promise.all([...this.entries.values()].map((e) => e.connection?.settings.pool?.end().catch(() => undefined)));
  }

  /**
   * The connection to `server` for an object in `namespace`. Throws ServerUnavailable naming the server and the fix
   * when there is no such PgServer, it does not serve the namespace, or its last check failed (Unreachable:
   * transient, retried; the objects are brought back when it is Ready again). Never waits on a server that is down.
   */
  async resolve(server: string, namespace: string): Promise<ServerConnection> {
    if (server === DEFAULT_SERVER) return this.options.defaultServer;
    const entry = this.entries.get(server);
    if (!entry)
      throw new core.ServerUnavailable(
        "ServerNotFound",
        `spec.server: no PgServer is named "${server}"; create it (kubectl get pgservers lists them) or name another`,
      );
    // A server being checked for the first time is not waited for (it may not answer for its whole connect
    // timeout): the object fails as not Ready yet, and the check's end brings it back.
    const { parsed, verdict, connection } = entry;
    const spec = parsed.ok ? parsed.spec : undefined;
    if (spec && !(await this.serves(spec, namespace)))
      throw new core.ServerUnavailable(
        "ServerNotAllowed",
        `spec.server: PgServer "${server}" does not serve namespace ${namespace} (its spec.allowedNamespaces selects ${
          spec.allowedNamespaces ? describeSelector(spec.allowedNamespaces) : `only ${this.options.controllerNamespace}`
        }); ask its owner to allow this namespace, or name another server`,
      );
    if (!verdict?.ready || !connection) {
      const why = verdict ? `${verdict.reason}: ${verdict.message}` : "being checked for the first time";
      throw new core.ServerUnavailable(
        verdict?.reason === "Unreachable" ? "ServerUnreachable" : "ServerNotReady",
        `PgServer "${server}" is not Ready (${why}); nothing was changed, and this is tried again when it is`,
      );
    }
    return connection;
  }

  /** Checks `name` now (or joins the check running); whether it is Ready after. */
  async recheck(name: string): Promise<boolean> {
    await this.check(name);
    return this.entries.get(name)?.verdict?.ready === true;
  }

  /** Checks one server now, unless a check is already running (that one's answer is as fresh). */
  private check(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) return Promise.resolve();
    entry.checking ??= this.runCheck(name, entry)
      .catch((err: unknown) => {
        // A failed status write or Event (the API server away): the next check writes it.
        this.options.log.warn(
          { kind: PG_SERVER.kind, server: name, err: (err as Error)?.message ?? String(err) },
          "server check not recorded",
        );
      })
      .finally(() => {
        entry.checking = undefined;
      });
    return entry.checking;
  }

  private async runCheck(name: string, entry: ServerEntry): Promise<void> {
    const { parsed } = entry;
    let verdict: NonNullable<ServerEntry["verdict"]>;
    let moved = false;
    const checkedAt = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    if (!parsed.ok) {
      verdict = { ready: false, reason: "InvalidSpec", message: new core.InvalidSpec(parsed.failures).message };
    } else {
      try {
        const endpointBefore = entry.connection?.endpoint;
        const connection = this.connectionFor(entry, parsed.spec, await this.settingsOf(name, parsed.spec));
        // A new address, TLS mode or CA: the credentials Secrets of its roles follow now, not at the next resync.
        moved = endpointBefore !== undefined && JSON.stringify(endpointBefore) !== JSON.stringify(connection.endpoint);
        const { version, identity, admin } = await core.withClient(connection.settings, undefined, async (c) => {
          const { rows } = await c.query<{ server_version: string }>("SHOW server_version");
          return { version: rows[0].server_version, identity: await core.observeIdentityWith(c), admin: await core.observeAdmin(c) };
        });
        entry.identity = identity;
        const s = connection.settings;
        const details = { version, lastCheckTime: checkedAt };
        const same = await this.sameAs(name, entry, identity);
        // What the admin lacks for either kind is said here, before any object on the server fails for it.
        const short = (["databases", "roles"] as const).flatMap((kind) => core.adminShortfall(admin, kind, core.serverWhere(s)) ?? []);
        if (same)
          verdict = {
            ready: false,
            reason: "SameServer",
            message: `${s.host}:${s.port} reaches the same Postgres as ${same} (${core.describeIdentity(identity)}): one Postgres is one PgServer, or objects on each could take what the other's made. Name ${same} in spec.server instead, and delete this PgServer; nothing is done through it meanwhile`,
            details,
          };
        else if (short.length === 2)
          verdict = { ready: false, reason: "AdminLacksPrivilege", message: short.map((e) => e.message).join("; "), details };
        else
          verdict = {
            ready: true,
            reason: "Reachable",
            message: [
              `connected to ${s.host}:${s.port} as ${s.user}${s.auth === "kerberos" ? " by Kerberos" : ""} (sslmode ${s.sslmode})`,
              ...short.map((e) => e.message),
            ].join("; "),
            details,
          };
      } catch (err) {
        verdict = failedCheck(err, parsed.spec, checkedAt, entry.obj.status?.version);
      }
    }
    const before = entry.verdict;
    entry.verdict = verdict;
    if (this.entries.get(name) === entry) this.options.onChecked?.(name, verdict.ready);
    // The latest object: our previous status write may have come back meanwhile.
    const obj = entry.obj;
    if (readyReason(obj) !== verdict.reason) {
      const failed = !verdict.ready;
      await recordEvent(this.sink(), obj, failed ? "Warning" : "Normal", verdict.reason, verdict.message);
      this.options.log[failed ? "warn" : "info"]({ kind: PG_SERVER.kind, server: name, reason: verdict.reason }, verdict.message);
    }
    if (before?.reason !== verdict.reason || before?.ready !== verdict.ready || moved) this.options.onChange(name);
    await writeStatus(this.api, obj, buildStatus(obj, verdict));
  }

  /**
   * How messages name the server that `entry` (a PgServer just checked) repeats, or undefined when it is the first to
   * reach its Postgres: the controller's own server comes first, then PgServers by age (then name).
   */
  private async sameAs(name: string, entry: ServerEntry, identity: core.ServerIdentity): Promise<string | undefined> {
    const age = (e: ServerEntry, n: string) => `${e.obj.metadata.creationTimestamp ?? ""} ${n}`;
    const mine = age(entry, name);
    const older = [...this.entries]
      .map(([n, e]) => ({ at: age(e, n), entry: `PgServer "${n}"`, identity: e.identity }))
      .filter((o) => o.at < mine)
      .sort((a, b) => (a.at < b.at ? -1 : 1));
    const self = `PgServer "${name}"`;
    const found = core.aliases([
      { entry: `the controller's own server ("${DEFAULT_SERVER}")`, identity: await this.defaultIdentity() },
      ...older,
      { entry: self, identity },
    ]);
    return found.find((a) => a.entry === self)?.same;
  }

  /** Who the controller's own server is, asked at most once per check interval (undefined while it cannot say). */
  private defaultIdentity(): Promise<core.ServerIdentity | undefined> {
    const seen = this.defaultSeen;
    if (seen && Date.now() - seen.at < this.options.checkIntervalMs) return seen.identity;
    const identity = core.observeIdentity(this.options.defaultServer.settings).catch(() => undefined);
    this.defaultSeen = { identity, at: Date.now() };
    return identity;
  }

  /**
   * The entry's connection for these settings: the same pool while nothing changed, a new one when anything did. Its
   * endpoint (where apps connect) follows the spec either way: a pooler declared is not a reason for a new pool.
   */
  private connectionFor(entry: ServerEntry, spec: ResolvedServerSpec, settings: core.ConnectionSettings): ServerConnection {
    const fingerprint = createHash("sha256")
      .update(JSON.stringify([settings, settings.password ?? null, settings.sslrootcert ?? null, spec.maxConnections]))
      .digest("hex");
    const endpoint = endpointOf(spec, settings);
    if (entry.connection?.fingerprint !== fingerprint) {
      const old = entry.connection;
      entry.connection = { settings: core.withPool(settings, spec.maxConnections), endpoint, fingerprint };
      // Connections checked out finish their work; the pool closes each as it comes back.
      void old?.settings.pool?.end().catch(() => undefined);
    } else if (JSON.stringify(entry.connection.endpoint) !== JSON.stringify(endpoint)) {
      entry.connection = { ...entry.connection, endpoint };
    }
    return entry.connection;
  }

  /**
   * Connection settings from the spec, the admin's credentials (the Secret with a password, or a Kerberos keytab and
   * krb5.conf) and the CA, read now. Throws ServerSetupError.
   */
  private async settingsOf(name: string, spec: ResolvedServerSpec): Promise<core.ConnectionSettings> {
    const credentials = spec.kerberos ? await this.kerberosOf(spec.kerberos) : await this.passwordOf(spec);
    const ca = await this.caOf(spec);
    try {
      return core.connectionSettings({
        host: spec.host,
        port: spec.port,
        ...credentials,
        database: spec.maintenanceDatabase,
        sslmode: spec.sslMode,
        sslrootcert: ca,
        connectTimeoutSeconds: spec.connectTimeoutSeconds,
        applicationName: "pg-kopf-controller",
        serverName: name,
        caSetting: "the PgServer's spec.ca",
      });
    } catch (err) {
      throw new ServerSetupError(spec.kerberos ? "CredentialsNotFound" : "CANotFound", (err as Error).message);
    }
  }

  /** The admin's user name and password from spec.credentialsSecret. */
  private async passwordOf(spec: ResolvedServerSpec): Promise<core.ConnectionInput> {
    const home = this.options.controllerNamespace;
    const ref = spec.credentialsSecret as NonNullable<ResolvedServerSpec["credentialsSecret"]>;
    const secret = await this.read("secrets", ref.namespace ?? home, ref.name, "CredentialsNotFound");
    const username = decoded(secret.data?.username);
    const password = decoded(secret.data?.password);
    if (!username || !password)
      throw new ServerSetupError(
        "CredentialsNotFound",
        `Secret ${ref.namespace ?? home}/${ref.name} lacks the key ${username ? "password" : "username"}: put the admin's user name and password under the keys username and password`,
      );
    return { user: username, password };
  }

  /**
   * The admin's Kerberos identity from spec.kerberos: the keytab (and krb5.conf) as private files named by their
   * content, so a rotated keytab is a new file, a new pool and a new ticket cache.
   */
  private async kerberosOf(k: NonNullable<ResolvedServerSpec["kerberos"]>): Promise<core.ConnectionInput> {
    const home = this.options.controllerNamespace;
    const { secretName, namespace = home, key = DEFAULT_KEYTAB_KEY } = k.keytab;
    const secret = await this.read("secrets", namespace, secretName, "CredentialsNotFound");
    const keytab = secret.data?.[key] === undefined ? undefined : Buffer.from(secret.data[key], "base64");
    if (!keytab || keytab.length < 2)
      throw new ServerSetupError(
        "CredentialsNotFound",
        `Secret ${namespace}/${secretName} has no keytab under the key ${key}: kubectl create secret generic ${secretName} -n ${namespace} --from-file=${key}=<keytab file>`,
      );
    let krb5Conf: string | undefined;
    if (k.krb5Conf) {
      const { configMapName, namespace: ns = home, key: confKey = DEFAULT_KRB5_CONF_KEY } = k.krb5Conf;
      const text = (await this.read("configmaps", ns, configMapName, "CredentialsNotFound")).data?.[confKey];
      if (!text || !/\[(libdefaults|realms)\]/.test(text))
        throw new ServerSetupError(
          "CredentialsNotFound",
          `ConfigMap ${ns}/${configMapName} has no krb5.conf (with a [libdefaults] or [realms] section) under the key ${confKey}`,
        );
      krb5Conf = core.privateFile("pg-kopf-krb5", text, ".conf");
    }
    return {
      auth: "kerberos",
      user: k.user,
      keytab: core.privateFile("pg-kopf-krb5", keytab, ".keytab"),
      ...(krb5Conf ? { krb5Conf } : {}),
      ...(k.gssEncMode ? { gssencmode: k.gssEncMode } : {}),
      ...(k.krbSrvName ? { krbsrvname: k.krbSrvName } : {}),
      authSetting: "the PgServer's spec.kerberos",
    };
  }

  /** The CA of spec.ca, when it names one. */
  private async caOf(spec: ResolvedServerSpec): Promise<string | undefined> {
    if (!spec.ca) return undefined;
    const home = this.options.controllerNamespace;
    const { namespace = home, key = DEFAULT_CA_KEY } = spec.ca;
    const [resource, objectName] = spec.ca.secretName
      ? (["secrets", spec.ca.secretName] as const)
      : (["configmaps", spec.ca.configMapName as string] as const);
    const object = await this.read(resource, namespace, objectName, "CANotFound");
    const ca = resource === "secrets" ? decoded(object.data?.[key]) : object.data?.[key];
    if (!ca?.includes("-----BEGIN CERTIFICATE-----"))
      throw new ServerSetupError("CANotFound", `${resource} ${namespace}/${objectName} has no PEM certificate under the key ${key}`);
    return ca;
  }

  private async read(
    resource: "secrets" | "configmaps",
    namespace: string,
    name: string,
    reason: ServerSetupError["reason"],
  ): Promise<{ data?: Record<string, string> }> {
    try {
      return await this.kube.get(`/api/v1/namespaces/${encodeURIComponent(namespace)}/${resource}/${encodeURIComponent(name)}`);
    } catch (err) {
      if (!(apiError(err, "notFound") || apiError(err, "forbidden"))) throw err;
      const what = resource === "secrets" ? "Secret" : "ConfigMap";
      throw new ServerSetupError(
        reason,
        apiError(err, "notFound")
          ? `${what} ${namespace}/${name} does not exist; create it, or name the right one in the PgServer`
          : `the controller may not read ${what} ${namespace}/${name}; declare the server in the program's pg-kopf:servers (which grants it) or grant get on it`,
      );
    }
  }

  /** Whether a server serves a namespace: its allowedNamespaces selector, by default the controller's own only. */
  private async serves(spec: ResolvedServerSpec, namespace: string): Promise<boolean> {
    if (!spec.allowedNamespaces) return namespace === this.options.controllerNamespace;
    return matchesSelector(spec.allowedNamespaces, await this.namespaceLabels(namespace));
  }

  /** A namespace's labels, read at most once per check interval. */
  private async namespaceLabels(namespace: string): Promise<Record<string, string>> {
    const cached = this.namespaces.get(namespace);
    if (cached && Date.now() - cached.at < this.options.checkIntervalMs) return cached.labels;
    const ns = await this.kube.get<{ metadata: { labels?: Record<string, string> } }>(
      `/api/v1/namespaces/${encodeURIComponent(namespace)}`,
    );
    const labels = ns.metadata.labels ?? {};
    this.namespaces.set(namespace, { labels, at: Date.now() });
    return labels;
  }

  private sink() {
    return { api: this.api, reporter: this.options.reporter, log: this.options.log };
  }
}

/** The verdict of a failed check; the version last seen stays (it is the server's, whether or not it answers now). */
function failedCheck(
  err: unknown,
  spec: ResolvedServerSpec,
  checkedAt: string,
  version: string | undefined,
): NonNullable<ServerEntry["verdict"]> {
  const details = { ...(version ? { version } : {}), lastCheckTime: checkedAt };
  if (err instanceof ServerSetupError) return { ready: false, reason: err.reason, message: err.message, details };
  const e = core.classifyError(err);
  const reason = SERVER_REASONS[e.reason] ?? "Rejected";
  // The CA the message names is spec.ca (caSetting); the name the certificate must list is spec.host's.
  const hint = reason === "TLSVerificationFailed" ? ` (the name checked is spec.host ${spec.host})` : "";
  return { ready: false, reason, message: `${e.message}${hint}`, details };
}

function decoded(base64: string | undefined): string | undefined {
  return base64 === undefined ? undefined : Buffer.from(base64, "base64").toString("utf8");
}

/** Where apps reach a PgServer and how (the credentials Secrets' keys): its address, TLS and Kerberos, and its pooler. */
function endpointOf(spec: ResolvedServerSpec, settings: core.ConnectionSettings): Endpoint {
  return {
    host: spec.host,
    port: spec.port,
    maintenanceDatabase: spec.maintenanceDatabase,
    sslmode: spec.sslMode,
    ...(settings.sslrootcert ? { ca: settings.sslrootcert } : {}),
    ...(spec.kerberos?.gssEncMode ? { gssencmode: spec.kerberos.gssEncMode } : {}),
    ...(spec.kerberos?.krbSrvName ? { krbsrvname: spec.kerberos.krbSrvName } : {}),
    ...(spec.pooler ? { pooler: { host: spec.pooler.host, port: spec.pooler.port ?? DEFAULT_POOLER_PORT } } : {}),
  };
}
