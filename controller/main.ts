// The controller process: wiring only. Reads its settings from the environment, elects a leader, and while leading
// feeds PgDatabase and PgRole changes (and credentials Secrets' changes, as their PgRole's) through one work queue
// into their reconcilers; serves /healthz, /readyz and /metrics; shuts down gracefully on SIGTERM.
import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import pino from "pino";
import * as core from "../core";
import { KubeClient } from "./kube/client";
import { loadKubeTarget } from "./kube/config";
import { LeaderElector } from "./runtime/leader";
import { createMetrics } from "./runtime/metrics";
import { ResourceApi } from "./runtime/writes";
import { WorkQueue } from "./runtime/queue";
import { reconcileDatabase } from "./database/reconciler";
import { reconcileRole, type RoleReconcilerDeps } from "./role/reconciler";
import { ResourceWatcher } from "./runtime/watcher";
import { fromQueueKey, PG_DATABASE, PG_ROLE, type PgDatabaseObject, type PgRoleObject, queueKey } from "./runtime/objects";
import { SecretApi, type SecretNamespaces, SecretWatcher } from "./role/secrets";
import type { Endpoint } from "./role/credentials";
import { databasesWaitingFor, objectsOn, rolesWaitingOn } from "./dependents";
import { ServerRegistry } from "./server/servers";
import { ServerWaiters } from "./server/waiters";
import { DEFAULT_POOLER_PORT } from "../crd/pgserver";
import { DEFAULT_SERVER, serverOf } from "../crd/server";

/** How often a server that objects wait on is asked whether it answers again. */
const SERVER_PROBE_MS = 1000;

export interface ControllerSettings {
  readonly watchNamespace?: string;
  readonly leaseNamespace: string;
  readonly leaseName: string;
  readonly identity: string;
  readonly httpPort: number;
  readonly concurrency: number;
  readonly resyncMs: number;
  readonly slowRetryMs: number;
  readonly leaseDurationSeconds: number;
  readonly shutdownTimeoutMs: number;
  /** Where PgRoles may have credentials Secrets: ROLE_NAMESPACES, a comma-separated list; unset or * for all. */
  readonly secretNamespaces: SecretNamespaces;
  /** The address written into credentials Secrets: CREDENTIALS_HOST/PORT, by default PGHOST/PGPORT. */
  readonly endpoint: Endpoint;
  /** How often each PgServer is checked (and its Secret and CA read again): SERVER_CHECK_SECONDS. */
  readonly serverCheckMs: number;
}

/** Controller settings from the environment (the Deployment sets these); defaults suit a cluster. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): ControllerSettings {
  const num = (name: string, fallback: number) => {
    const v = env[name] === undefined || env[name] === "" ? fallback : Number(env[name]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${name}: "${env[name]}" is not a non-negative number`);
    return v;
  };
  return {
    watchNamespace: env.WATCH_NAMESPACE || undefined,
    leaseNamespace: env.POD_NAMESPACE || "default",
    leaseName: env.LEASE_NAME || "pg-kopf-controller",
    identity: env.POD_NAME || `${hostname()}-${process.pid}`,
    httpPort: num("HTTP_PORT", 8080),
    concurrency: Math.max(1, num("CONCURRENCY", 4)),
    resyncMs: num("RESYNC_SECONDS", 300) * 1000,
    slowRetryMs: num("SLOW_RETRY_SECONDS", 60) * 1000,
    leaseDurationSeconds: Math.max(2, num("LEASE_DURATION_SECONDS", 15)),
    shutdownTimeoutMs: num("SHUTDOWN_TIMEOUT_SECONDS", 20) * 1000,
    serverCheckMs: Math.max(1, num("SERVER_CHECK_SECONDS", 30)) * 1000,
    secretNamespaces: secretNamespacesOf(env.ROLE_NAMESPACES),
    endpoint: {
      host: env.CREDENTIALS_HOST || env.PGHOST || "localhost",
      port: num("CREDENTIALS_PORT", num("PGPORT", 5432)),
      maintenanceDatabase: env.PGDATABASE || "postgres",
      ...(env.PGKOPF_AUTH === "kerberos" && env.PGGSSENCMODE ? { gssencmode: env.PGGSSENCMODE } : {}),
      ...(env.PGKOPF_AUTH === "kerberos" && env.PGKRBSRVNAME ? { krbsrvname: env.PGKRBSRVNAME } : {}),
      ...(env.POOLER_HOST ? { pooler: { host: env.POOLER_HOST, port: num("POOLER_PORT", DEFAULT_POOLER_PORT) } } : {}),
    },
  };
}

function secretNamespacesOf(value: string | undefined): SecretNamespaces {
  if (value === undefined || value.trim() === "*") return "all";
  return value
    .split(",")
    .map((ns) => ns.trim())
    .filter(Boolean);
}

type Log = pino.Logger;
type Metrics = ReturnType<typeof createMetrics>;

/** The watches, which exist once this process leads. */
interface Watches {
  databases?: ResourceWatcher<PgDatabaseObject>;
  roles?: ResourceWatcher<PgRoleObject>;
  secrets?: SecretWatcher;
}

/** What every piece of the process shares. */
interface Wiring {
  readonly s: ControllerSettings;
  readonly log: Log;
  readonly metrics: Metrics;
  readonly kube: KubeClient;
  readonly pg: core.ConnectionSettings;
  readonly servers: ServerRegistry;
  readonly watches: Watches;
}

/** The PgServers (and the default server), each checked; a server's change brings back the objects on it. */
function createServers(
  s: ControllerSettings,
  log: Log,
  metrics: Metrics,
  kube: KubeClient,
  pg: core.ConnectionSettings,
  onChange: (server: string) => void,
) {
  return new ServerRegistry(kube, {
    // Apps are told the server's TLS as the controller uses it: its sslmode, and its CA.
    defaultServer: { settings: pg, endpoint: { ...s.endpoint, sslmode: pg.sslmode, ...(pg.sslrootcert ? { ca: pg.sslrootcert } : {}) } },
    controllerNamespace: s.leaseNamespace,
    checkIntervalMs: s.serverCheckMs,
    log,
    reporter: s.identity,
    onChange,
    onChecked: (server, ready) =>
      ready === undefined ? metrics.serverReady.remove({ server }) : metrics.serverReady.set({ server }, ready ? 1 : 0),
    onError: () => metrics.watchRestarts.inc(),
  });
}

/** The reconcile of one queue key: the kind's reconciler, its metrics and log line, and who waits on it. */
function reconcilerOf(w: Wiring, waiters: ServerWaiters, requeue: (key: string) => void) {
  const { s, log, metrics, kube, servers, watches } = w;
  const common = { servers, log, reporter: s.identity, slowRetryMs: s.slowRetryMs };
  // Made once; the watchers they read from exist once this process leads.
  const databaseDeps = { ...common, api: new ResourceApi(kube, PG_DATABASE), get: (k: string) => watches.databases?.get(k) };
  const roleDeps: RoleReconcilerDeps = {
    ...common,
    api: new ResourceApi(kube, PG_ROLE),
    get: (k) => watches.roles?.get(k),
    secrets: new SecretApi(kube),
    secretNamespaces: s.secretNamespaces,
    applied: new Map(),
  };
  return async (key: string) => {
    const { kind, objectKey } = fromQueueKey(key);
    // A database's owner (and any object's server), read before its reconcile may release it from the cache.
    const database = kind === PG_DATABASE ? watches.databases?.get(objectKey) : undefined;
    const object = kind === PG_DATABASE ? database : watches.roles?.get(objectKey);
    const end = metrics.duration.startTimer();
    const result = kind === PG_ROLE ? await reconcileRole(objectKey, roleDeps) : await reconcileDatabase(objectKey, databaseDeps);
    end();
    metrics.reconciles.inc({ result: result.reason });
    if (result.outcome.kind !== "done") metrics.errors.inc({ reason: result.reason });
    log.info({ kind: kind.kind, key: objectKey, result: result.reason }, "reconciled");
    if (result.waitsForServer && object) waiters.wait(serverOf(object.spec), key);
    // What waited on this one goes now, not at its slow retry: a database for its new owner role, a role's
    // deletion for the database it owned.
    if (kind === PG_ROLE && result.reason === "Reconciled") {
      for (const k of databasesWaitingFor(watches.roles?.get(objectKey), watches.databases?.list() ?? []))
        requeue(queueKey(PG_DATABASE, k));
    }
    if (kind === PG_DATABASE && result.reason === "Released") {
      for (const k of rolesWaitingOn(database, watches.roles?.list() ?? [])) requeue(queueKey(PG_ROLE, k));
    }
    return result.outcome;
  };
}

/** One work queue for every kind, and the waiters that bring objects back when their server answers again. */
function createQueue(w: Wiring): { queue: WorkQueue; waiters: ServerWaiters } {
  // Objects whose server did not answer come back as soon as it does (the default: a connection; a PgServer: its check).
  const waiters = new ServerWaiters({
    probe: (server) =>
      server === DEFAULT_SERVER ? core.withClient(w.pg, undefined, (c) => c.query("SELECT 1")).then(() => true) : w.servers.recheck(server),
    wake: (key) => queue.add(key),
    intervalMs: SERVER_PROBE_MS,
  });
  const queue: WorkQueue = new WorkQueue(
    reconcilerOf(w, waiters, (key) => queue.add(key)),
    {
      concurrency: w.s.concurrency,
      baseDelayMs: 1000,
      maxDelayMs: 120_000,
      onDepth: (d) => w.metrics.queueDepth.set(d),
      onError: (key, err) => {
        w.metrics.errors.inc({ reason: "ApiError" });
        w.log.warn({ key, err: (err as Error).message }, "reconcile failed; retrying");
      },
    },
  );
  return { queue, waiters };
}

/** On taking the lead: watch PgDatabases, PgRoles and credentials Secrets, once the servers' state is known. */
function startWatching(w: Wiring, queue: WorkQueue): void {
  const { s, log, metrics, kube, watches } = w;
  metrics.leader.set(1);
  const watch = { namespace: s.watchNamespace, resyncMs: s.resyncMs, log, onError: () => metrics.watchRestarts.inc() };
  watches.databases = new ResourceWatcher<PgDatabaseObject>(kube, PG_DATABASE, {
    ...watch,
    onKey: (k) => queue.add(queueKey(PG_DATABASE, k)),
  });
  watches.roles = new ResourceWatcher<PgRoleObject>(kube, PG_ROLE, { ...watch, onKey: (k) => queue.add(queueKey(PG_ROLE, k)) });
  watches.secrets = new SecretWatcher(
    kube,
    s.secretNamespaces,
    (k) => queue.add(queueKey(PG_ROLE, k)),
    (err, retryInMs) => {
      metrics.watchRestarts.inc();
      log.warn({ kind: "Secret", err: (err as Error)?.message ?? String(err), retryInMs }, "watch failed; listing again");
    },
  );
  // Servers first: each object is reconciled once its server's state is known.
  void w.servers.start().then(() => {
    watches.databases?.start();
    watches.roles?.start();
    watches.secrets?.start();
  });
}

/**
 * The graceful end on SIGTERM: reconciles in flight finish, the watches stop, the Lease is released (so a successor
 * need not wait out its duration), within the shutdown timeout whatever the API server or Postgres do.
 */
function shutdownOnSignals(w: Wiring, queue: WorkQueue, waiters: ServerWaiters, elector: LeaderElector, server: Server): void {
  const { s, log, watches } = w;
  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, "shutting down");
    // Each step below may wait on a request that never returns.
    setTimeout(() => {
      log.warn({ timeoutMs: s.shutdownTimeoutMs }, "shutdown did not finish in time; exiting");
      process.exit(1);
    }, s.shutdownTimeoutMs).unref();
    waiters.stop();
    // Finish the reconciles in flight (each leaves Postgres consistent: one statement at a time), bounded in time.
    // (Half the time for them: the rest is for releasing the lease.)
    await Promise.race([queue.shutdown(), new Promise((r) => setTimeout(r, s.shutdownTimeoutMs / 2).unref())]);
    // Shutting down goes on whatever fails here; each failure is logged.
    const logged = (what: string) => (err: unknown) =>
      log.warn({ err: (err as Error)?.message ?? String(err) }, `${what} failed during shutdown`);
    for (const watcher of [watches.databases, watches.roles, watches.secrets, w.servers])
      await watcher?.stop().catch(logged("stopping a watch"));
    await elector.stop().catch(logged("releasing the lease"));
    await w.pg.pool?.end().catch(logged("closing the Postgres pool"));
    w.kube.close();
    server.close();
    log.info({}, "stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const log = pino({ level: env.LOG_LEVEL || "info", base: { component: "pg-kopf-controller" } });
  const s = settingsFromEnv(env);
  // PG* variables from the Secret; the password stays non-enumerable and never reaches a log line.
  const pg = core.withPool(
    core.connectionSettings({ applicationName: "pg-kopf-controller", caSetting: "pg-kopf:postgresSslRootCert" }, env),
    s.concurrency + 1,
  );
  const kube = new KubeClient(loadKubeTarget(env));
  const watches: Watches = {};
  const metrics = createMetrics({
    passwordsSet: () =>
      (watches.roles?.list() ?? []).flatMap((r) => {
        const at = r.status?.credentials?.passwordSetAt;
        return at ? [{ namespace: r.metadata.namespace as string, name: r.metadata.name, at }] : [];
      }),
  });
  // The queue exists below; a server's change brings back the objects on it (to go on, or to say why not).
  let onServerChange: (server: string) => void = () => undefined;
  const servers = createServers(s, log, metrics, kube, pg, (server) => onServerChange(server));
  const w: Wiring = { s, log, metrics, kube, pg, servers, watches };
  const { queue, waiters } = createQueue(w);
  onServerChange = (server) => {
    for (const k of objectsOn(server, watches.databases?.list() ?? [])) queue.add(queueKey(PG_DATABASE, k));
    for (const k of objectsOn(server, watches.roles?.list() ?? [])) queue.add(queueKey(PG_ROLE, k));
  };
  const elector = new LeaderElector(kube, {
    namespace: s.leaseNamespace,
    name: s.leaseName,
    identity: s.identity,
    leaseDurationSeconds: s.leaseDurationSeconds,
    renewIntervalMs: (s.leaseDurationSeconds * 1000) / 3,
    retryIntervalMs: (s.leaseDurationSeconds * 1000) / 5,
    log,
  });
  const server = serve(s.httpPort, {
    healthy: () => true,
    // A standby is ready (it is waiting, as it should); a leader once its first list has completed.
    ready: () => !elector.isLeader || ((watches.databases?.synced ?? false) && (watches.roles?.synced ?? false) && servers.synced),
    metrics: () => metrics.registry.metrics(),
  });
  elector.run(
    () => startWatching(w, queue),
    () => {
      // Another process may already be acting: stop at once and let the restart campaign again.
      metrics.leader.set(0);
      log.error({}, "leadership lost; exiting");
      process.exit(1);
    },
  );
  shutdownOnSignals(w, queue, waiters, elector, server);
  log.info(
    { identity: s.identity, watchNamespace: s.watchNamespace ?? "(all)", postgres: `${pg.host}:${pg.port}`, sslmode: pg.sslmode },
    "started",
  );
}

function serve(port: number, h: { healthy: () => boolean; ready: () => boolean; metrics: () => Promise<string> }): Server {
  const server = createServer((req, res) => {
    const reply = (code: number, body: string, type = "text/plain") => {
      res.writeHead(code, { "Content-Type": type });
      res.end(body);
    };
    if (req.url === "/healthz") return reply(h.healthy() ? 200 : 500, h.healthy() ? "ok" : "unhealthy");
    if (req.url === "/readyz") return reply(h.ready() ? 200 : 503, h.ready() ? "ok" : "not ready");
    if (req.url === "/metrics") {
      h.metrics().then(
        (m) => reply(200, m, "text/plain; version=0.0.4"),
        () => reply(500, "metrics failed"),
      );
      return;
    }
    reply(404, "not found");
  });
  server.listen(port);
  return server;
}

if (require.main === module) {
  main().catch((err) => {
    // Startup failed (bad settings, no kubeconfig): say why and exit non-zero so the pod restarts.
    process.stderr.write(`pg-kopf-controller: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
