// The controller process: wiring only. Reads its settings from the environment, elects a leader, and while leading
// feeds PgDatabase changes through the work queue into reconcile; serves /healthz, /readyz and /metrics; shuts down
// gracefully on SIGTERM.
import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import pino from "pino";
import * as core from "../core";
import { KubeClient } from "./kube/client";
import { loadKubeTarget } from "./kube/config";
import { LeaderElector } from "./leader";
import { createMetrics } from "./metrics";
import { PgDatabaseApi } from "./pgDatabaseApi";
import { WorkQueue } from "./queue";
import { reconcile } from "./reconciler";
import { PgDatabaseWatcher } from "./watcher";

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
  };
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const log = pino({ level: env.LOG_LEVEL || "info", base: { component: "pg-kopf-controller" } });
  const s = settingsFromEnv(env);
  // PG* variables from the Secret; the password stays non-enumerable and never reaches a log line.
  const pg = core.withPool(core.connectionSettings({ applicationName: "pg-kopf-controller" }, env), s.concurrency + 1);
  const kube = new KubeClient(loadKubeTarget(env));
  const api = new PgDatabaseApi(kube);
  const metrics = createMetrics();

  let watcher: PgDatabaseWatcher | undefined;
  const queue = new WorkQueue(
    async (key) => {
      const end = metrics.duration.startTimer();
      const result = await reconcile(key, {
        api,
        settings: pg,
        get: (k) => watcher?.get(k),
        log,
        reporter: s.identity,
        slowRetryMs: s.slowRetryMs,
      });
      end();
      metrics.reconciles.inc({ result: result.reason });
      if (result.outcome.kind !== "done") metrics.errors.inc({ reason: result.reason });
      log.info({ key, result: result.reason }, "reconciled");
      return result.outcome;
    },
    {
      concurrency: s.concurrency,
      baseDelayMs: 1000,
      maxDelayMs: 120_000,
      onDepth: (d) => metrics.queueDepth.set(d),
      onError: (key, err) => {
        metrics.errors.inc({ reason: "ApiError" });
        log.warn({ key, err: (err as Error).message }, "reconcile failed; retrying");
      },
    },
  );

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
    ready: () => !elector.isLeader || (watcher?.synced ?? false),
    metrics: () => metrics.registry.metrics(),
  });

  elector.run(
    () => {
      metrics.leader.set(1);
      watcher = new PgDatabaseWatcher(kube, {
        namespace: s.watchNamespace,
        resyncMs: s.resyncMs,
        log,
        onKey: (k) => queue.add(k),
        onError: () => metrics.watchRestarts.inc(),
      });
      watcher.start();
    },
    () => {
      // Another process may already be acting: stop at once and let the restart campaign again.
      metrics.leader.set(0);
      log.error({}, "leadership lost; exiting");
      process.exit(1);
    },
  );

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, "shutting down");
    // Finish the reconciles in flight (each leaves Postgres consistent: one statement at a time), bounded in time.
    await Promise.race([queue.shutdown(), new Promise((r) => setTimeout(r, s.shutdownTimeoutMs).unref())]);
    // Shutting down goes on whatever fails here; each failure is logged.
    const logged = (what: string) => (err: unknown) =>
      log.warn({ err: (err as Error)?.message ?? String(err) }, `${what} failed during shutdown`);
    await watcher?.stop().catch(logged("stopping the watch"));
    await elector.stop().catch(logged("releasing the lease"));
    await pg.pool?.end().catch(logged("closing the Postgres pool"));
    kube.close();
    server.close();
    log.info({}, "stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
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
