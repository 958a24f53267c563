// A server's own Kerberos credentials (a keytab, a krb5.conf) for its connections. MIT Kerberos, inside libpq, finds
// them only in the process environment (KRB5_CLIENT_KTNAME, KRB5CCNAME, KRB5_CONFIG), read afresh each time a
// connection opens its security context, and libpq can be told nothing else: so each Kerberos connect runs with the
// environment its server needs, one connect at a time, and the process's own values are put back after it.
import { createHash } from "node:crypto";

/** The files one server's Kerberos connections use instead of the process's own. */
export interface Krb5Files {
  /** The client keytab (KRB5_CLIENT_KTNAME): the principal the server is reached as, renewed from it. */
  readonly keytab?: string;
  /** krb5.conf (KRB5_CONFIG): the realm and its KDC. */
  readonly krb5Conf?: string;
}

const KEYS = ["KRB5_CLIENT_KTNAME", "KRB5CCNAME", "KRB5_CONFIG"] as const;

/**
 * The ticket cache of a keytab: in memory (nothing written, the root filesystem may be read-only), one per keytab
 * file, so two servers' principals never share a cache (MIT Kerberos would use the first one's tickets for both).
 */
export const keytabCache = (keytab: string): string => `MEMORY:pg-kopf-${createHash("sha256").update(keytab).digest("hex").slice(0, 16)}`;

/** The tail of the queue of Kerberos connects: each waits for the one before it. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs `connect` (a libpq connection being established, whose GSSAPI exchange reads the environment on libpq's
 * thread) with the environment `files` say, after every earlier Kerberos connect of this process has ended. A connect
 * with no files of its own runs with the process's values, never with another server's left in place.
 */
export function withKrb5Environment<T>(files: Krb5Files, connect: () => Promise<T>): Promise<T> {
  const run = queue.then(async () => {
    const saved = KEYS.map((k) => process.env[k]);
    if (files.keytab) {
      process.env.KRB5_CLIENT_KTNAME = files.keytab;
      process.env.KRB5CCNAME = keytabCache(files.keytab);
    }
    if (files.krb5Conf) process.env.KRB5_CONFIG = files.krb5Conf;
    try {
      return await connect();
    } finally {
      KEYS.forEach((k, i) => {
        if (saved[i] === undefined) delete process.env[k];
        else process.env[k] = saved[i];
      });
    }
  });
  queue = run.catch(() => undefined);
  return run;
}
