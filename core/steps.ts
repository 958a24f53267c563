// Step: one planned SQL statement, as data (printable, testable, shown in previews), and its SQL text.
// Every identifier and literal goes through the driver's escaping helpers; nothing is concatenated raw.
import { escapeIdentifier as id, escapeLiteral as lit } from "pg";

export interface CreateDatabaseOptions {
  readonly owner?: string;
  readonly template?: string;
  readonly encoding?: string;
  readonly lcCollate?: string;
  readonly lcCtype?: string;
  readonly localeProvider?: "libc" | "icu";
  readonly icuLocale?: string;
  readonly tablespace?: string;
  readonly allowConnections?: boolean;
  readonly connectionLimit?: number;
  readonly isTemplate?: boolean;
}

export type Step =
  | ({ kind: "createDatabase"; database: string } & CreateDatabaseOptions)
  | { kind: "stampOwnership"; database: string; manager: string; comment: string }
  | { kind: "alterOwner"; database: string; owner: string }
  | { kind: "alterTablespace"; database: string; tablespace: string }
  | { kind: "alterConnectionLimit"; database: string; connectionLimit: number }
  | { kind: "alterAllowConnections"; database: string; allowConnections: boolean }
  | { kind: "alterIsTemplate"; database: string; isTemplate: boolean }
  | { kind: "createExtension"; database: string; extension: string }
  | { kind: "dropDatabase"; database: string; force: boolean };

export type StepKind = Step["kind"];

const int = (n: number): string => {
  // Numbers reach SQL only after validation; this guards the one path that is not a driver-escaped string.
  if (!Number.isInteger(n)) throw new TypeError(`not an integer: ${n}`);
  return String(n);
};
const bool = (b: boolean): string => (b ? "true" : "false");

/** The single SQL statement a step runs. Pure. */
export function stepSql(step: Step): string {
  const db = id(step.database);
  switch (step.kind) {
    case "createDatabase": {
      const opts: string[] = [];
      if (step.owner !== undefined) opts.push(`OWNER ${id(step.owner)}`);
      if (step.template !== undefined) opts.push(`TEMPLATE ${id(step.template)}`);
      if (step.encoding !== undefined) opts.push(`ENCODING ${lit(step.encoding)}`);
      if (step.localeProvider !== undefined) opts.push(`LOCALE_PROVIDER ${lit(step.localeProvider)}`);
      if (step.icuLocale !== undefined) opts.push(`ICU_LOCALE ${lit(step.icuLocale)}`);
      if (step.lcCollate !== undefined) opts.push(`LC_COLLATE ${lit(step.lcCollate)}`);
      if (step.lcCtype !== undefined) opts.push(`LC_CTYPE ${lit(step.lcCtype)}`);
      if (step.tablespace !== undefined) opts.push(`TABLESPACE ${id(step.tablespace)}`);
      if (step.allowConnections !== undefined) opts.push(`ALLOW_CONNECTIONS ${bool(step.allowConnections)}`);
      if (step.connectionLimit !== undefined) opts.push(`CONNECTION LIMIT ${int(step.connectionLimit)}`);
      if (step.isTemplate !== undefined) opts.push(`IS_TEMPLATE ${bool(step.isTemplate)}`);
      return opts.length ? `CREATE DATABASE ${db} WITH ${opts.join(" ")}` : `CREATE DATABASE ${db}`;
    }
    case "stampOwnership":
      return `COMMENT ON DATABASE ${db} IS ${lit(step.comment)}`;
    case "alterOwner":
      return `ALTER DATABASE ${db} OWNER TO ${id(step.owner)}`;
    case "alterTablespace":
      return `ALTER DATABASE ${db} SET TABLESPACE ${id(step.tablespace)}`;
    case "alterConnectionLimit":
      return `ALTER DATABASE ${db} WITH CONNECTION LIMIT ${int(step.connectionLimit)}`;
    case "alterAllowConnections":
      return `ALTER DATABASE ${db} WITH ALLOW_CONNECTIONS ${bool(step.allowConnections)}`;
    case "alterIsTemplate":
      return `ALTER DATABASE ${db} WITH IS_TEMPLATE ${bool(step.isTemplate)}`;
    case "createExtension":
      return `CREATE EXTENSION IF NOT EXISTS ${id(step.extension)}`;
    case "dropDatabase":
      return step.force ? `DROP DATABASE IF EXISTS ${db} WITH (FORCE)` : `DROP DATABASE IF EXISTS ${db}`;
  }
}

/** The database a step must be run from: extensions live inside the database, everything else is run from the maintenance database. */
export function stepTarget(step: Step): string | undefined {
  return step.kind === "createExtension" ? step.database : undefined;
}

/** Whether a step destroys data. Previews mark these. */
export function isDestructive(step: Step): boolean {
  return step.kind === "dropDatabase";
}

/** A step as a reviewer reads it: its SQL, marked when it destroys data. */
export function describeStep(step: Step): string {
  return (isDestructive(step) ? "[destructive] " : "") + stepSql(step);
}
