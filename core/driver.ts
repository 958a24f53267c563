// Which node-postgres client a connection is made with: pg's pure-JS client for password authentication (nothing to
// compile), libpq's through pg-native for Kerberos, which the pure-JS protocol cannot speak. Decided here only; see
// docs/adr/0025-kerberos-through-libpq.md.
import type { Duplex } from "node:stream";
import pg, { Client, type ClientConfig } from "pg";
import { InvalidSpec } from "./errors";
import type { GssEncMode } from "./kerberos";
import { type Krb5Files, withKrb5Environment } from "./krb5Environment";

/** Authentication requests of the protocol that the pure-JS client cannot answer, by their code. */
const UNANSWERABLE: Record<string, string> = { "2": "Kerberos V5", "7": "GSSAPI (Kerberos)", "9": "SSPI" };

/** The server asked for an authentication method the pure-JS client cannot answer. */
export class UnansweredAuthentication extends Error {
  constructor(readonly method: string) {
    super(`the server asks for ${method} authentication (its pg_hba.conf), which a password connection cannot answer`);
    this.name = "UnansweredAuthentication";
  }
}

/**
 * Makes an exception thrown while the stream's data is parsed fail the connection instead of the process. pg's
 * protocol parser throws from inside the socket's 'data' event, outside any promise ("Unknown authenticationOk
 * message type 7" when pg_hba.conf asks for GSSAPI): uncaught, it would end the controller or the provider.
 */
function failingConnectionOnParseError(stream: Duplex): void {
  const emit = stream.emit.bind(stream);
  stream.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event !== "data") return emit(event, ...args);
    try {
      return emit(event, ...args);
    } catch (err) {
      const code = /Unknown authenticationOk message type (\d+)/.exec(String((err as Error)?.message))?.[1];
      stream.destroy(code !== undefined ? new UnansweredAuthentication(UNANSWERABLE[code] ?? `code ${code}`) : (err as Error));
      return false;
    }
  }) as typeof stream.emit;
}

/** pg's Client, whose protocol errors fail the connection (see failingConnectionOnParseError). */
export class PasswordClient extends Client {
  constructor(config?: ClientConfig) {
    super(config);
    // The connection attaches its parser to the socket, and again to the TLS socket once TLS is up.
    const connection = (this as unknown as { connection: { attachListeners(stream: Duplex): void } }).connection;
    const attach = connection.attachListeners.bind(connection);
    connection.attachListeners = (stream: Duplex) => {
      failingConnectionOnParseError(stream);
      attach(stream);
    };
  }
}

/** The Kerberos settings libpq needs that pg's native client does not pass on. */
export interface LibpqExtras {
  readonly gssencmode?: GssEncMode;
  readonly krbsrvname?: string;
}

/** A libpq connection string value, quoted as libpq parses it (the values are validated vocabulary besides). */
const conninfoValue = (value: string): string => `'${value.replace(/[\\']/g, "\\$&")}'`;

/**
 * pg's native (libpq) Client class for these settings. pg builds libpq's connection string from its own settings
 * and drops gssencmode and krbsrvname, so they are appended to it here. It also dials the host's address as
 * hostaddr and keeps host as the name, which the server's service principal must carry. Its connects run with the
 * server's own keytab and krb5.conf when it has them (core/krb5Environment). Throws InvalidSpec when pg-native is not
 * installed.
 */
export function kerberosClientClass(extras: LibpqExtras, files: Krb5Files = {}): typeof Client {
  const native = nativeDriver();
  const appended = Object.entries(extras)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${conninfoValue(String(value))}`)
    .join(" ");
  class KerberosClient extends native.Client {
    constructor(config?: ClientConfig) {
      super(config);
      // pg's Pool connects with a callback, withClient without: both go through the environment's queue.
      const connect = this.connect.bind(this) as unknown as () => Promise<void>;
      this.connect = ((callback?: (err: Error | null) => void) => {
        const connected = withKrb5Environment(files, () => connect());
        if (!callback) return connected;
        connected.then(
          () => callback(null),
          (err: Error) => callback(err),
        );
        return undefined;
      }) as typeof this.connect;
      if (!appended) return;
      type Params = { getLibpqConnectionString(cb: (err: Error | null, conninfo: string) => void): void };
      const params = (this as unknown as { connectionParameters: Params }).connectionParameters;
      const build = params.getLibpqConnectionString.bind(params);
      params.getLibpqConnectionString = (cb) => build((err, conninfo) => cb(err, err ? conninfo : `${conninfo} ${appended}`));
    }
  }
  return KerberosClient as unknown as typeof Client;
}

/** pg's native bindings, loaded the first time a Kerberos connection needs them (password users never load them). */
function nativeDriver(): NonNullable<typeof pg.native> {
  let native: typeof pg.native = null;
  try {
    native = pg.native;
  } catch {
    native = null;
  }
  if (!native)
    throw new InvalidSpec([
      {
        field: "auth",
        message:
          "Kerberos connections need pg-native (libpq), which is not installed or did not build: npm install pg-native (it compiles against libpq's headers: Debian's libpq-dev), or set auth to password",
      },
    ]);
  return native;
}
