// A throwaway MIT Kerberos realm for tests: Debian's krb5kdc on a free loopback port, its own krb5.conf and kdc.conf
// (KRB5_CONFIG, KRB5_KDC_PROFILE: the machine's are never read), principals and keytabs made with kadmin.local; the
// KDC is stopped and its directory removed on stop() or process exit.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "./postgres";
import { stopWithDir } from "./leash";

export interface TestRealm {
  readonly realm: string;
  readonly dir: string;
  /** The krb5.conf clients and servers use (KRB5_CONFIG). */
  readonly krb5Conf: string;
  /** The KDC's address, host:port. */
  readonly kdc: string;
  /**
   * Creates `principal` with a random key and writes its keytab; returns the keytab's path. `maxLifeSeconds` bounds
   * its tickets (to prove renewal from the keytab).
   */
  addPrincipal(principal: string, options?: { maxLifeSeconds?: number }): string;
  /** Creates each of `principals` with a random key and writes one keytab holding them all (a server's). */
  addPrincipals(principals: readonly string[]): string;
  /** A new key for `principal` (kvno + 1), written to a new keytab whose path is returned: a rotated keytab. */
  rotate(principal: string): string;
  /** kinit from `keytab` into the ticket cache `cache` (e.g. FILE:/tmp/x), as a user would before pulumi up. */
  kinit(principal: string, keytab: string, cache: string): void;
  stop(): void;
}

export const TEST_REALM = "PGKOPF.TEST";
/** Debian's faketime package. */
const FAKETIME_LIBRARY = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

export interface RealmOptions {
  /**
   * The KDC's clock this far from the machine's (libfaketime's offset, e.g. "+1h"), for clock-skew failures: its
   * tickets start in the server's future.
   */
  readonly clockOffset?: string;
  /** The address the KDC listens on (default 127.0.0.1): a node's, for pods to reach it. */
  readonly listen?: string;
}

export async function startRealm(realmOptions: RealmOptions = {}): Promise<TestRealm> {
  const dir = mkdtempSync(join(tmpdir(), "pg-kopf-krb-"));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const address = realmOptions.listen ?? "127.0.0.1";
  const krb5Conf = join(dir, "krb5.conf");
  const kdcConf = join(dir, "kdc.conf");
  // rdns off and no DNS lookups: the service principal is the name dialled, as in a cluster.
  writeFileSync(
    krb5Conf,
    `[libdefaults]
  default_realm = ${TEST_REALM}
  dns_lookup_kdc = false
  dns_lookup_realm = false
  rdns = false
  dns_canonicalize_hostname = false
  udp_preference_limit = 1
[realms]
  ${TEST_REALM} = {
    kdc = ${address}:${port}
  }
`,
  );
  writeFileSync(
    kdcConf,
    `[kdcdefaults]
  kdc_listen = ${address}:${port}
  kdc_tcp_listen = ${address}:${port}
[realms]
  ${TEST_REALM} = {
    database_name = ${join(dir, "principal")}
    key_stash_file = ${join(dir, "stash")}
    acl_file = ${join(dir, "kadm5.acl")}
    max_life = 10h
  }
[logging]
  kdc = FILE:${join(dir, "kdc.log")}
`,
  );
  const env = { ...process.env, KRB5_CONFIG: krb5Conf, KRB5_KDC_PROFILE: kdcConf };
  const run = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { env, encoding: "utf8" });
    if (r.status !== 0 || /error|not found|unknown/i.test(r.stderr ?? ""))
      throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  const admin = (query: string) => run("kadmin.local", ["-q", query]);
  // The master key's password guards a database that lives as long as this test.
  run("kdb5_util", ["create", "-s", "-r", TEST_REALM, "-P", "pg-kopf-test-master"]);
  // libfaketime preloaded into the KDC itself (not through the faketime wrapper, which would be the process killed).
  const skewed = realmOptions.clockOffset ? { LD_PRELOAD: FAKETIME_LIBRARY, FAKETIME: realmOptions.clockOffset } : {};
  const kdc = spawn("krb5kdc", ["-n"], { env: { ...env, ...skewed }, stdio: "ignore" });
  const stop = stopWithDir(kdc, dir);
  await waitForPort(address, port);

  let keytabs = 0;
  const keytabFor = (principal: string) => {
    const file = join(dir, `${principal.replace(/[^A-Za-z0-9]/g, "_")}-${++keytabs}.keytab`);
    admin(`ktadd -k ${file} ${principal}`);
    chmodSync(file, 0o644);
    return file;
  };
  return {
    realm: TEST_REALM,
    dir,
    krb5Conf,
    kdc: `${address}:${port}`,
    addPrincipal(principal, options = {}) {
      const life = options.maxLifeSeconds ? `-maxlife "${options.maxLifeSeconds} seconds" ` : "";
      admin(`addprinc -randkey ${life}${principal}`);
      // ktadd makes a new key; the first keytab is the principal's only valid one.
      return keytabFor(principal);
    },
    addPrincipals(principals) {
      for (const principal of principals) admin(`addprinc -randkey ${principal}`);
      return keytabFor(principals.join(" "));
    },
    rotate: (principal) => keytabFor(principal),
    kinit(principal, keytab, cache) {
      run("kinit", ["-k", "-t", keytab, "-c", cache, principal]);
    },
    stop,
  };
}

/** Resolves when something listens on the TCP port. */
