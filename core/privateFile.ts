// Credentials libpq and MIT Kerberos take only as files (a CA, a keytab, krb5.conf) when pg-kopf holds them as
// bytes: a private copy in the temporary directory, named by its content, so a changed one is a new file (and, for a
// keytab, a new ticket cache) and an unchanged one is written once.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The path of a file holding `content`, readable by this user only, under the temporary directory's `dir`. */
export function privateFile(dir: string, content: string | Buffer, suffix: string): string {
  const parent = join(tmpdir(), dir);
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  const file = join(parent, `${createHash("sha256").update(content).digest("hex").slice(0, 32)}${suffix}`);
  try {
    writeFileSync(file, content, { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  return file;
}
