// The ownership stamp: a COMMENT ON DATABASE naming the manager (a Pulumi stack or a PgDatabase object), so that
// nothing alters or drops a database it did not create unless told to adopt it.

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
