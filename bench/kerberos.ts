// Kerberos: what a GSSAPI connect costs against a SCRAM one, on one Postgres 15 and one throwaway MIT KDC. The floor
// is libpq's own SCRAM connect (pg-native, the driver Kerberos connections use); pg's pure-JS SCRAM connect, what
// password users get, is beside it. `npm run bench:kerberos [-- N]`: N connects each (default 200), alternated in
// rounds so load from other work falls on all alike.
import * as core from "../core";
import { MANAGED_ADMIN, startPostgres } from "../test/harness/postgres";
import { startRealm } from "../test/harness/kerberos";

// pg-native ships no types: the two calls used here.
type NativeClient = { connect(conninfo: string, cb: (err?: Error) => void): void; end(cb: () => void): void };
const Native = require("pg-native") as new () => NativeClient;

const n = Number(process.argv[2] ?? 200);
const ROUNDS = 4;

/** Milliseconds per connect-and-close of `connect`, over `count` in a row. */
async function perConnect(count: number, connect: () => Promise<void>): Promise<number> {
  const t = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await connect();
  return Number(process.hrtime.bigint() - t) / 1e6 / count;
}

/** One libpq connection by a connection string, opened and closed (the floor's and GSSAPI's own path). */
function libpq(conninfo: string): () => Promise<void> {
  return () =>
    new Promise((resolve, reject) => {
      const client = new Native();
      client.connect(conninfo, (err) => (err ? reject(err) : client.end(() => resolve())));
    });
}

async function main() {
  const realm = await startRealm();
  process.env.KRB5_CONFIG = realm.krb5Conf;
  const pg = await startPostgres({ gss: { realm } });
  try {
    process.env.KRB5_CLIENT_KTNAME = realm.addPrincipal(MANAGED_ADMIN);
    process.env.KRB5CCNAME = "MEMORY:bench";
    // The bootstrap superuser logs in by SCRAM (the harness's pg_hba.conf), everyone else by GSSAPI. The floor's
    // password reaches libpq by its environment, not the connection string.
    process.env.PGPASSWORD = pg.superuserPassword;
    const scram = pg.settings({ user: "postgres", password: pg.superuserPassword });
    const contestants: Record<string, () => Promise<void>> = {
      "libpq SCRAM (floor)": libpq(`host=127.0.0.1 port=${pg.port} user=postgres dbname=postgres sslmode=disable gssencmode=disable`),
      "pg pure-JS SCRAM (password users)": () => core.withClient(scram, undefined, async () => undefined),
      "pg-kopf Kerberos, GSSAPI auth (gssencmode disable)": () =>
        core.withClient(pg.settings({ host: "localhost", auth: "kerberos", gssencmode: "disable" }), undefined, async () => undefined),
      "pg-kopf Kerberos, GSSAPI auth and encryption": () =>
        core.withClient(pg.settings({ host: "localhost", auth: "kerberos", gssencmode: "require" }), undefined, async () => undefined),
    };
    const totals: Record<string, number[]> = Object.fromEntries(Object.keys(contestants).map((k) => [k, []]));
    for (const connect of Object.values(contestants)) await perConnect(5, connect);
    for (let round = 0; round < ROUNDS; round++)
      for (const [label, connect] of Object.entries(contestants)) totals[label].push(await perConnect(Math.ceil(n / ROUNDS), connect));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const floor = median(totals["libpq SCRAM (floor)"]);
    console.log(`${n} connects each, in ${ROUNDS} alternated rounds; median of the rounds, ms per connect and close`);
    for (const [label, xs] of Object.entries(totals))
      console.log(
        `${label.padEnd(52)} ${median(xs).toFixed(2).padStart(7)} ms  x${(median(xs) / floor).toFixed(2)}  (rounds ${xs.map((x) => x.toFixed(2)).join(" / ")})`,
      );
  } finally {
    pg.destroy();
    realm.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
