// The controller as a cluster runs it: its image built from the Dockerfile (scripts/image.sh), loaded into a real
// node's containerd, and the project's `pulumi up` making the Deployment whose pod runs it, reaching a throwaway
// Postgres through the Service and EndpointSlice the program makes. What `npm start` runs and the pod tests use.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startCluster, type TestCluster } from "./cluster";
import { NAMESPACE, ROLE_NAMESPACES } from "./controller";
import { startRealm, type TestRealm } from "./kerberos";
import { MANAGED_ADMIN, startPostgres, type TestPostgres } from "./postgres";
import { clusterStackConfig, createCliStack, REPO, type CliStack, type StackConfig } from "./project";

export const IMAGE = "pg-kopf-controller";
/** The in-cluster name of the program's Postgres Service, which the server certificate names for verify-full. */
export const POSTGRES_SERVICE_HOST = `postgres.${NAMESPACE}.svc.cluster.local`;

export interface ControllerPodOptions {
  /** The image tag built and deployed. */
  readonly tag: string;
  /** The stack's name. */
  readonly stack: string;
  /** Postgres TLS-only, its certificate naming the Service; the pod connects with verify-full and the CA Secret. */
  readonly tls?: boolean;
  readonly databases?: object[];
  readonly config?: StackConfig;
  /**
   * Kerberos-only Postgres: a realm whose KDC listens on the node's address, the server's principal naming the
   * Service, and the program's postgresAuth kerberos with the admin's keytab (no password anywhere).
   */
  readonly kerberos?: boolean;
}

export interface ControllerPod {
  readonly cluster: TestCluster;
  readonly pg: TestPostgres;
  readonly stack: CliStack;
  /** With `kerberos`: the realm. */
  readonly realm?: TestRealm;
  /** The image's name as the Deployment names it (and containerd holds it). */
  readonly image: string;
  /** Seconds each step took: image build, cluster with its node, pulumi up. */
  readonly timings: Record<string, number>;
  teardown(): Promise<void>;
}

function image(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [join(REPO, "scripts", "image.sh"), ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`scripts/image.sh ${args.join(" ")} failed (${code}): ${err}`)),
    );
  });
}

const since = (t: number) => Math.round((Date.now() - t) / 100) / 10;

/** Builds the image, starts the cluster with a real node and Postgres, and runs `pulumi up` of the project. */
export async function startControllerPod(options: ControllerPodOptions): Promise<ControllerPod> {
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  // The image builds while the cluster and its node come up.
  const built = image(["build", options.tag]).then(() => {
    timings.image = since(t0);
  });
  let cluster: TestCluster | undefined;
  let pg: TestPostgres | undefined;
  let stack: CliStack | undefined;
  let realm: TestRealm | undefined;
  const teardown = async () => {
    await cluster?.shutdown();
    pg?.destroy();
    realm?.stop();
    stack?.destroyDir();
    await image(["remove", `${IMAGE}:${options.tag}`]).catch(() => undefined);
  };
  try {
    cluster = await startCluster({ realNode: true });
    timings.cluster = since(t0);
    const node = cluster.node!;
    if (options.kerberos) realm = await startRealm({ listen: node.slot.host });
    pg = await startPostgres({
      alsoListen: { address: node.slot.host, clients: node.slot.pods },
      ...(options.tls ? { tls: true, tlsNames: [`DNS:${POSTGRES_SERVICE_HOST}`] } : {}),
      ...(realm ? { gss: { realm, hosts: [POSTGRES_SERVICE_HOST] } } : {}),
    });
    await built;
    // containerd names an image as a pod spec's short name resolves: docker.io/library/<name>:<tag>.
    const archive = join(cluster.dir, "controller.tar");
    await image(["archive", `${IMAGE}:${options.tag}`, archive, `docker.io/library/${IMAGE}:${options.tag}`]);
    node.loadImage(archive);
    const tlsConfig: StackConfig = options.tls
      ? {
          adminSslMode: { value: "require" },
          postgresSslMode: { value: "verify-full" },
          postgresSslRootCert: { value: pg.caPem! },
        }
      : {};
    // The controller's keytab and krb5.conf, as a user would set them; the password is then refused by the program.
    const kerberosConfig: StackConfig = realm
      ? {
          postgresAuth: { value: "kerberos" },
          postgresKeytab: { value: readFileSync(realm.addPrincipal(MANAGED_ADMIN)).toString("base64"), secret: true },
          postgresKrb5Conf: { value: readFileSync(realm.krb5Conf, "utf8") },
        }
      : {};
    const { adminPassword, ...withoutPassword } = clusterStackConfig(pg, options.databases ?? [], {
      postgresHostIp: { value: node.slot.host },
      imageTag: { value: options.tag },
      // The image is on the node already; nothing may be pulled (there is no registry).
      imagePullPolicy: { value: "Never" },
      roleNamespaces: { value: JSON.stringify(ROLE_NAMESPACES) },
      ...tlsConfig,
      ...kerberosConfig,
      ...options.config,
    });
    stack = createCliStack(
      options.stack,
      pg,
      realm ? withoutPassword : { ...withoutPassword, ...(adminPassword ? { adminPassword } : {}) },
      { KUBECONFIG: cluster.kubeconfig },
    );
    const upStarted = Date.now();
    stack.run(["up", "--yes", "--skip-preview"]);
    timings.up = since(upStarted);
    return { cluster, pg, stack, ...(realm ? { realm } : {}), image: `${IMAGE}:${options.tag}`, timings, teardown };
  } catch (err) {
    await built.catch(() => undefined);
    await teardown();
    throw err;
  }
}
