// The ownership stamp: a COMMENT ON DATABASE (or ROLE) naming the manager (a Pulumi stack or a custom resource), so
// that nothing alters or drops a database or role it did not create unless told to take it over; and the one rule
// that decides, from the stamp, whether a plan may touch what exists.
import { Type } from "@sinclair/typebox";
import { DEFAULT_SERVER } from "./connect";
import { NotOwned } from "./errors";

const PREFIX = "managed by pg-kopf: ";

/** The comment text that marks a database as created and managed by `manager`. */
export function ownershipStamp(manager: string): string {
  return PREFIX + manager;
}

/** The manager named by a database comment, or undefined when the comment is not a pg-kopf stamp. */
export function stampedManager(comment: string | undefined): string | undefined {
  return comment?.startsWith(PREFIX) ? comment.slice(PREFIX.length) : undefined;
}

/**
 * The manager identity of a Pulumi stack on one of its server entries: pulumi:<project>/<stack> on the default
 * server, pulumi:<project>/<stack>#<server> on a named one. Two entries of one stack never share a stamp, so a
 * resource declared under one entry never takes, alters or drops what another entry's resource made, even when both
 * reach one Postgres.
 */
export function pulumiManager(project: string, stack: string, server: string = DEFAULT_SERVER): string {
  return entryManager(`pulumi:${project}/${stack}`, server);
}

/**
 * `manager` as a stamp of the server entry `server`: a manager recorded before stamps named their entry (in a
 * resource's state) gains the entry's name. Idempotent.
 */
export function entryManager(manager: string, server: string = DEFAULT_SERVER): string {
  if (server === DEFAULT_SERVER || manager.endsWith(`#${server}`)) return manager;
  return `${manager}#${server}`;
}

/** The manager identity of a PgDatabase object in a cluster. */
export function kubernetesManager(namespace: string, name: string): string {
  return `kubernetes:${namespace}/${name}`;
}

/** Who is planning, for the ownership rule. */
export interface OwnershipContext {
  /** Who is managing: the identity written in the ownership stamp. */
  readonly manager: string;
  /**
   * The manager recorded that it ran the CREATE for this name and may have stopped before stamping it: an object of
   * this name with no comment at all is then its own, and gets stamped. A comment of any kind still means someone
   * else's.
   */
  readonly claimsUnstamped?: boolean;
  /**
   * What this manager stamped under an earlier name, as its own record says (a Pulumi resource's state: the manager
   * and the oid it recorded). A stamp of that name on the object of that oid is its own and is stamped again under
   * the current name; on any other object, or for a drop, it is someone else's. Covers stamps made before they named
   * their server entry, and a renamed stack.
   */
  readonly formerly?: { readonly manager: string; readonly oid: number };
  /**
   * The engine's rule for the managers adoptFrom may name: undefined when it may name `stamped`, else the remedy that
   * works there instead (the cluster takes over only within a namespace). Absent: any manager.
   */
  readonly adoptsFrom?: (stamped: string, target: Owned) => string | undefined;
}

/** What the rule is asked about: a database or a role, by name, with its spec's takeover fields. */
export interface Owned {
  readonly kind: "database" | "role";
  readonly name: string;
  readonly adopt?: boolean;
  readonly adoptFrom?: string;
}

/**
 * Whether a plan may touch an existing database or role whose comment is `comment`, and whether it must stamp it as
 * its own once its other steps have run (a takeover). Throws NotOwned when it may not: one stamped by another manager
 * is taken over only when adoptFrom names that manager; adopt takes over only one no pg-kopf manager has stamped.
 * Dropping is never a takeover: only what carries our own stamp is dropped.
 */
export function ownership(
  target: Owned,
  observed: { readonly comment?: string; readonly oid: number },
  ctx: OwnershipContext,
  action: "alter" | "drop",
): { takeOver: boolean } {
  const { comment } = observed;
  const stamped = stampedManager(comment);
  if (stamped === ctx.manager) return { takeOver: false };
  const refuse = (why: string, fix: string) => {
    throw new NotOwned(`${target.kind} "${target.name}" exists and ${why}, so ${ctx.manager} will not ${action} it. ${fix}`);
  };
  const formerlyOurs = stamped !== undefined && stamped === ctx.formerly?.manager && observed.oid === ctx.formerly.oid;
  if (action === "drop") {
    // Whichever entry of a stack dropped a stamp that names no entry could be dropping what another entry declares.
    const unqualified = stamped !== undefined && ctx.manager.startsWith(`${stamped}#`);
    return refuse(
      stamped ? `is managed by ${stamped}` : "was not created by pg-kopf",
      unqualified
        ? "Left in place: its stamp predates stamps that name their server entry, so another entry of the stack may declare it. For pg-kopf to drop it, run pulumi up with the resource still declared first (that stamps it anew, naming the entry), then remove it; or drop it by hand."
        : "Left in place.",
    );
  }
  if (formerlyOurs) return { takeOver: true };
  if (stamped) {
    if (target.adoptFrom === stamped) return { takeOver: true };
    const elsewhere = ctx.adoptsFrom?.(stamped, target);
    return refuse(
      `is managed by ${stamped}`,
      elsewhere !== undefined
        ? elsewhere
        : target.adoptFrom !== undefined
          ? `adoptFrom names ${JSON.stringify(target.adoptFrom)}; to take it over, name its manager exactly: adoptFrom: ${JSON.stringify(stamped)}.`
          : `To take it over from that manager on purpose, set adoptFrom: ${JSON.stringify(stamped)}; otherwise choose another name.`,
    );
  }
  if (target.adopt) return { takeOver: true };
  // A claim finishes an interrupted creation: one with no comment at all that we recorded creating.
  if (ctx.claimsUnstamped && comment === undefined) return { takeOver: true };
  return refuse(
    "was not created by pg-kopf",
    "To manage it, set adopt: true (it is stamped as managed once the rest of the plan has run); otherwise choose another name.",
  );
}

/**
 * The two spec fields that take over what exists, for a kind's field table (one meaning for databases and roles):
 * adopt for an unstamped one, adoptFrom for one another manager stamped. Policy: read by `ownership` above.
 */
export function adoptionFields(kind: "database" | "role") {
  return {
    adopt: {
      schema: Type.Optional(
        Type.Boolean({
          description:
            `Take over a ${kind} that exists but that no pg-kopf manager has stamped (stamps it via COMMENT ON ${kind.toUpperCase()} once the rest of the plan has run). ` +
            `A ${kind} stamped by another manager needs adoptFrom.`,
        }),
      ),
      behaviour: "policy",
    },
    adoptFrom: {
      schema: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 512,
          description:
            `Take over a ${kind} another pg-kopf manager stamped, naming that manager exactly as its stamp does ` +
            "(pulumi:<project>/<stack> or kubernetes:<namespace>/<name>). In a cluster, only a manager of the same namespace.",
        }),
      ),
      behaviour: "policy",
    },
  } as const;
}
