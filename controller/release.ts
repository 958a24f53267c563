// `npm run release`: the way out once no controller runs (after pulumi destroy). It removes pg-kopf's finalizer from
// every PgDatabase and PgRole, so that deleting them, their namespaces or the CRDs no longer waits for a controller,
// and so that a controller started later finds no deletion to carry out. Nothing in Postgres is touched: every
// database and role stays, whatever its reclaimPolicy. It refuses while a pg-kopf controller Deployment has replicas,
// since that controller would be racing it.
import { loadKubeTarget } from "./kube/config";
import { apiError, KubeClient } from "./kube/client";
import { removeFinalizer } from "./runtime/finalizer";
import { KINDS, type CustomObject } from "./runtime/objects";
import { ResourceApi } from "./runtime/writes";

export interface ReleaseOptions {
  /** Only this namespace's objects (default: every namespace). */
  readonly namespace?: string;
  /** List what would be released, change nothing. */
  readonly dryRun?: boolean;
}

/** One object released (or, with dryRun, to be released). */
export interface Released {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** It was being deleted: without the finalizer it is gone now, its database or role left in Postgres. */
  readonly deleting: boolean;
}

const CONTROLLER_SELECTOR = "app.kubernetes.io/name=pg-kopf-controller";

/** The pg-kopf controller Deployments that still run a pod, as namespace/name. */
export async function runningControllers(client: KubeClient): Promise<string[]> {
  const list = await client.get<{ items: { metadata: { namespace: string; name: string }; spec?: { replicas?: number } }[] }>(
    `/apis/apps/v1/deployments?labelSelector=${encodeURIComponent(CONTROLLER_SELECTOR)}`,
  );
  return list.items.filter((d) => (d.spec?.replicas ?? 1) > 0).map((d) => `${d.metadata.namespace}/${d.metadata.name}`);
}

/** Removes pg-kopf's finalizer from each object that has it; a concurrent change is read again and retried. */
export async function release(client: KubeClient, options: ReleaseOptions = {}): Promise<Released[]> {
  const released: Released[] = [];
  for (const kind of KINDS) {
    const api = new ResourceApi(client, kind);
    const { items } = await client.get<{ items: CustomObject[] }>(ResourceApi.collection(kind, options.namespace));
    for (const listed of items) {
      let obj = listed;
      for (let attempt = 0; obj.metadata.finalizers?.includes(kind.finalizer); attempt++) {
        if (options.dryRun) break;
        try {
          await removeFinalizer(api, obj);
          break;
        } catch (err) {
          // 409/422: the object changed since it was read (its finalizers, another writer): read it again.
          if (!(apiError(err, "conflict") || apiError(err, "invalid")) || attempt >= 5) throw err;
          obj = await api.get(obj);
        }
      }
      if (!listed.metadata.finalizers?.includes(kind.finalizer)) continue;
      released.push({
        kind: kind.kind,
        namespace: listed.metadata.namespace ?? "",
        name: listed.metadata.name,
        deleting: Boolean((listed.metadata as { deletionTimestamp?: string }).deletionTimestamp),
      });
    }
  }
  return released;
}

function parseArgs(argv: readonly string[]): ReleaseOptions & { force: boolean } {
  let namespace: string | undefined;
  let dryRun = false;
  let force = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--dry-run") dryRun = true;
    else if (arg === "--even-with-controller") force = true;
    else if (arg === "--namespace" || arg === "-n") {
      namespace = argv[++i];
      if (!namespace) throw new Error(`${arg} needs a namespace name`);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}; usage: npm run release -- [--namespace NS] [--dry-run]`);
  }
  return { namespace, dryRun, force };
}

async function main(): Promise<void> {
  const { force, ...options } = parseArgs(process.argv.slice(2));
  const client = new KubeClient(loadKubeTarget(process.env));
  const running = await runningControllers(client);
  if (running.length > 0 && !force) {
    throw new Error(
      `a pg-kopf controller still runs (${running.join(", ")}): it carries out deletions itself. ` +
        "Release objects only once it is gone (pulumi destroy, or scale it to 0).",
    );
  }
  const released = await release(client, options);
  for (const r of released) {
    const where = `${r.kind} ${r.namespace}/${r.name}`;
    const what = r.deleting ? "was being deleted and is gone now" : "no longer waits for a controller when deleted";
    console.log(`${options.dryRun ? "would release" : "released"} ${where}: ${what}; Postgres untouched`);
  }
  console.log(`${released.length} object(s) ${options.dryRun ? "to release" : "released"}; every database and role stays in Postgres.`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`pg-kopf release: ${err.message}`);
    process.exit(1);
  });
}
