// Types of the pgpass package (node-postgres' reader of libpq's password file), which ships none.
declare module "pgpass" {
  interface ConnectionInfo {
    host?: string;
    port?: number | string;
    database?: string;
    user?: string;
  }
  function pgpass(connInfo: ConnectionInfo, cb: (password: string | undefined) => void): void;
  export = pgpass;
}
