// Prometheus metrics of the controller: reconciles by result, errors by reason, reconcile duration, queue depth,
// leadership, each PgServer's readiness and watch restarts, each PgRole's password age, plus the process defaults (memory, CPU, event loop).
import * as client from "prom-client";

/** What the metrics read from the controller's caches at each scrape. */
export interface MetricSources {
  /** Each PgRole with a password the controller set: its namespace, name and when it was set (RFC 3339). */
  passwordsSet(): { namespace: string; name: string; at: string }[];
}

export function createMetrics(sources?: MetricSources) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: "pgkopf_" });
  return {
    registry,
    reconciles: new client.Counter({
      name: "pgkopf_reconcile_total",
      help: "Reconciles by result",
      labelNames: ["result"],
      registers: [registry],
    }),
    errors: new client.Counter({
      name: "pgkopf_reconcile_errors_total",
      help: "Reconciles that need another try, by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    duration: new client.Histogram({
      name: "pgkopf_reconcile_duration_seconds",
      help: "Time of one reconcile",
      registers: [registry],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    queueDepth: new client.Gauge({ name: "pgkopf_queue_depth", help: "Keys waiting in the work queue", registers: [registry] }),
    leader: new client.Gauge({ name: "pgkopf_leader", help: "1 while this process holds the lease", registers: [registry] }),
    serverReady: new client.Gauge({
      name: "pgkopf_server_ready",
      help: "1 while the PgServer's last check succeeded, 0 otherwise, by server (absent once it is deleted)",
      labelNames: ["server"],
      registers: [registry],
    }),
    passwordSet: new client.Gauge({
      name: "pgkopf_role_password_set_timestamp_seconds",
      help: "When each PgRole's password was last set (Unix seconds): alert on time() minus this for the credential's age",
      labelNames: ["namespace", "pgrole"],
      registers: [registry],
      // Read from the PgRoles' status at each scrape: a deleted PgRole's series goes with it.
      collect() {
        this.reset();
        for (const p of sources?.passwordsSet() ?? [])
          this.set({ namespace: p.namespace, pgrole: p.name }, Math.floor(Date.parse(p.at) / 1000));
      },
    }),
    watchRestarts: new client.Counter({
      name: "pgkopf_watch_restarts_total",
      help: "Times the watch failed and was restarted",
      registers: [registry],
    }),
  };
}
