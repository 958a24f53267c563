// SCRAM-SHA-256 password verifiers (RFC 5802, RFC 7677) computed here, so a role's password reaches Postgres only as
// the verifier Postgres stores anyway: the plaintext never appears in a statement, the server's statement log or
// pg_stat_activity. The same derivation as libpq's PQencryptPasswordConn.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

/** Postgres's default scram_iterations. */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;

export interface ScramKeys {
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/**
 * The password as SCRAM hashes it: SASLprep'd (RFC 4013), as libpq and the server do; a password SASLprep refuses
 * (unassigned or prohibited characters) is used as its raw UTF-8 bytes, as they do too.
 */
function prepared(password: string): Buffer {
  const saslprep = require("@mongodb-js/saslprep") as (s: string) => string;
  try {
    return Buffer.from(saslprep(password), "utf8");
  } catch {
    return Buffer.from(password, "utf8");
  }
}

/** StoredKey and ServerKey for a password, salt and iteration count. Pure. */
export function scramKeys(password: string, salt: Buffer, iterations = SCRAM_ITERATIONS): ScramKeys {
  const salted = pbkdf2Sync(prepared(password), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  return {
    storedKey: createHash("sha256").update(clientKey).digest(),
    serverKey: createHmac("sha256", salted).update("Server Key").digest(),
  };
}

/** The verifier Postgres stores in pg_authid.rolpassword: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. */
export function scramVerifier(password: string, salt: Buffer = randomBytes(SALT_BYTES), iterations = SCRAM_ITERATIONS): string {
  const { storedKey, serverKey } = scramKeys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/**
 * Whether `verifier` was made from `password` (same salt and iterations). Lets a plan tell a rotated password from
 * an unchanged one without ever sending either.
 */
export function verifierMatches(verifier: string | undefined, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier ?? "");
  if (!m) return false;
  const { storedKey, serverKey } = scramKeys(password, Buffer.from(m[2], "base64"), Number(m[1]));
  return storedKey.toString("base64") === m[3] && serverKey.toString("base64") === m[4];
}

/** What a generated password is made of: 24 random bytes, 32 URL-safe characters, usable as is in a connection URI. */
const GENERATED_PASSWORD_BYTES = 24;

/** A new random password, for a role whose password nobody gave. */
export function generatePassword(): string {
  return randomBytes(GENERATED_PASSWORD_BYTES).toString("base64url");
}
