// The PgDatabase dynamic provider: Pulumi's configure/check/diff/create/read/update/delete, each a thin call into
// the core. It runs in the engine's provider process from its serialized form, so it keeps no captured state:
// the admin connection is read from stack config in configure and held on the provider object itself.
import type * as pulumi from "@pulumi/pulumi";
import * as core from "../core";
import { adminConnection } from "./config";

/** The resource's properties as the engine passes them around: the spec, the manager, and outputs. */
type Props = Record<string, unknown>;

/** Spec fields of a property bag (engine keys such as __provider, manager and outputs dropped). */
export function specFields(props: Props): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(core.PgDatabaseSpecSchema.properties)) {
    if (props[key] !== undefined && props[key] !== null) out[key] = props[key];
  }
  return out;
}

function parseOrThrow(props: Props): core.PgDatabaseSpec {
  const r = core.parseSpec(specFields(props));
  if (!r.ok) throw new core.InvalidSpec(r.failures);
  return r.spec;
}

function managerOf(props: Props): string {
  if (typeof props.manager !== "string" || props.manager === "") {
    throw new core.InvalidSpec([{ field: "manager", message: "missing; the PgDatabase resource sets it to the stack's identity" }]);
  }
  return props.manager;
}

/**
 * Fields that differ between two property bags, immutable ones first. Values are compared as JSON, so list order
 * counts for extensions (the order is the order they are installed in).
 */
export function changedFields(olds: Props, news: Props): string[] {
  const a = specFields(olds);
  const b = specFields(news);
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** The recorded properties after the database was brought to `spec`: the spec, who manages it, and its oid. */
function outputs(spec: core.PgDatabaseSpec, manager: string, observed: core.ObservedDatabase): Props {
  return { ...spec, manager, oid: observed.oid };
}

/** A spec failure in the words of Pulumi's check: one entry per property. */
function checkFailures(failures: readonly core.FieldFailure[]): pulumi.dynamic.CheckFailure[] {
  return failures.map((f) => ({ property: f.field.split(".")[0], reason: `${f.field}: ${f.message}` }));
}

/** Errors leave the provider with the failing field and reason in the message, never with connection secrets. */
function rethrow(err: unknown): never {
  const e = core.classifyError(err);
  throw new Error(`${e.reason}: ${e.message}`);
}

/** The admin connection configure set up; PG* environment variables when the engine never called configure. */
function connection(provider: PgDatabaseProvider): core.ConnectionSettings {
  return (provider.settings ??= adminConnection({ get: () => undefined }, process.env));
}

export interface PgDatabaseProvider extends pulumi.dynamic.ResourceProvider {
  settings?: core.ConnectionSettings;
}

/**
 * The provider object handed to pulumi.dynamic.Resource. Methods look up `this.settings` (set by configure) rather
 * than closing over module state, so the serialized provider is self-contained.
 */
export const pgDatabaseProvider: PgDatabaseProvider = {
  async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.settings = adminConnection(req.config, process.env);
  },

  async check(olds: Props, news: Props): Promise<pulumi.dynamic.CheckResult> {
    const r = core.parseSpec(specFields(news));
    if (!r.ok) return { failures: checkFailures(r.failures) };
    const failures: pulumi.dynamic.CheckFailure[] = [];
    // An immutable change means DROP + CREATE. Only a resource whose recorded policy already says delete may do
    // that; otherwise the preview stops here, naming the field.
    if (olds && Object.keys(olds).length > 0 && olds.reclaimPolicy !== "delete") {
      for (const field of changedFields(olds, news)) {
        if ((core.IMMUTABLE_FIELDS as readonly string[]).includes(field)) {
          failures.push({
            property: field,
            reason: `${field}: ${core.immutableChangeMessage(specFields(olds)[field], specFields(news)[field])}`,
          });
        }
      }
    }
    if (failures.length) return { failures };
    return { inputs: { ...r.spec, manager: news.manager } };
  },

  async diff(_id: string, olds: Props, news: Props): Promise<pulumi.dynamic.DiffResult> {
    const changed = changedFields(olds, news);
    const replaces = changed.filter((f) => (core.IMMUTABLE_FIELDS as readonly string[]).includes(f));
    const stables = (core.IMMUTABLE_FIELDS as readonly string[]).filter((f) => !replaces.includes(f));
    return {
      changes: changed.length > 0 || olds.manager !== news.manager,
      replaces,
      stables,
      // The replacement has the same name (or must not coexist with the old one), so the old goes first; with
      // reclaimPolicy delete that is the explicit permission to drop it.
      deleteBeforeReplace: replaces.length > 0,
    };
  },

  async create(inputs: Props): Promise<pulumi.dynamic.CreateResult> {
    const spec = parseOrThrow(inputs);
    const manager = managerOf(inputs);
    try {
      const { observed } = await core.converge(connection(this), spec, { manager });
      return { id: spec.name, outs: outputs(spec, manager, observed) };
    } catch (err) {
      rethrow(err);
    }
  },

  async read(id: string, props: Props): Promise<pulumi.dynamic.ReadResult> {
    const name = typeof props.name === "string" ? props.name : id;
    let observed: core.ObservedDatabase | undefined;
    try {
      const wanted = Array.isArray(props.extensions) && props.extensions.length > 0;
      observed = await core.observeDatabase(connection(this), name, { withExtensions: wanted });
    } catch (err) {
      rethrow(err);
    }
    // Gone out of band: an empty id tells the engine the resource no longer exists.
    if (!observed) return { id: undefined, props: {} };
    const refreshed = reflectObserved(props, observed);
    return { id: name, props: refreshed, inputs: { ...specFields(refreshed), manager: refreshed.manager } } as pulumi.dynamic.ReadResult;
  },

  async update(_id: string, olds: Props, news: Props): Promise<pulumi.dynamic.UpdateResult> {
    const spec = parseOrThrow(news);
    const manager = managerOf(news);
    try {
      const { observed } = await core.converge(connection(this), spec, { manager });
      return { outs: outputs(spec, manager, observed) };
    } catch (err) {
      rethrow(err);
    }
  },

  async delete(_id: string, props: Props): Promise<void> {
    const spec = parseOrThrow(props);
    try {
      await core.reclaim(connection(this), spec, { manager: managerOf(props) });
    } catch (err) {
      rethrow(err);
    }
  },
};

/**
 * Recorded properties updated with what the catalog says, so a refresh shows drift and the next update repairs
 * it. Only fields the spec sets are reflected (unset ones stay unset); with no recorded name (an import) every
 * observable field is taken.
 */
export function reflectObserved(props: Props, observed: core.ObservedDatabase): Props {
  const importing = typeof props.name !== "string";
  const out: Props = { ...props, name: observed.name, oid: observed.oid };
  const observable = ["owner", "encoding", "lcCollate", "lcCtype", "localeProvider", "icuLocale", "tablespace", "connectionLimit", "allowConnections", "isTemplate"] as const;
  for (const field of observable) {
    if ((importing || props[field] !== undefined) && observed[field] !== undefined) out[field] = observed[field];
  }
  if (Array.isArray(props.extensions) && observed.extensions) {
    const installed = new Set(observed.extensions);
    out.extensions = (props.extensions as string[]).filter((e) => installed.has(e));
  }
  if (importing) {
    out.reclaimPolicy = "retain";
    if (typeof props.manager !== "string") out.manager = core.stampedManager(observed.comment) ?? "";
  }
  return out;
}
