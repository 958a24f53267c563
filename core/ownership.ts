// The ownership stamp: a COMMENT ON DATABASE (or ROLE) naming the manager (a Pulumi stack or a custom resource), so
// that nothing alters or drops a database or role it did not create unless told to take it over; and the one rule
// that decides, from the stamp, whether a plan may touch what exists.
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

/** The manager identity of a Pulumi stack. */
export function pulumiManager(project: string, stack: string): string {
  return `pulumi:${project}/${stack}`;
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
  comment: string | undefined,
  ctx: OwnershipContext,
  action: "alter" | "drop",
): { takeOver: boolean } {
  const stamped = stampedManager(comment);
  if (stamped === ctx.manager) return { takeOver: false };
  const refuse = (why: string, fix: string) => {
    throw new NotOwned(`${target.kind} "${target.name}" exists and ${why}, so ${ctx.manager} will not ${action} it. ${fix}`);
  };
  if (action === "drop") return refuse(stamped ? `is managed by ${stamped}` : "was not created by pg-kopf", "Left in place.");
  if (stamped) {
    if (target.adoptFrom === stamped) return { takeOver: true };
    return refuse(
      `is managed by ${stamped}`,
      target.adoptFrom !== undefined
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
