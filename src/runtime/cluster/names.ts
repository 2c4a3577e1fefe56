/**
 * Names in NATS of one cluster's things. `cluster` (`--cluster`, default `ordo`) prefixes every
 * stream, bucket and subject, so several clusters can share one NATS. Stream and bucket names
 * may not hold `.`, `*`, `>`, spaces or path separators; subjects are dot-separated tokens.
 */
const NAME = /^[A-Za-z0-9_-]+$/;

export function checkClusterName(cluster: string): string {
  if (!NAME.test(cluster)) throw new RangeError(`cluster name ${JSON.stringify(cluster)} may hold only letters, digits, '_' and '-'`);
  return cluster;
}

/** The stream of journal `n`: one stream per journal, so its sequence is the journal's order. */
export function journalStream(cluster: string, n: number): string {
  return `${checkClusterName(cluster)}_journal_${n}`;
}

/** The one subject journal `n`'s stream captures. */
export function journalSubject(cluster: string, n: number): string {
  return `${checkClusterName(cluster)}.journal.${n}`;
}

/** The object store bucket of the cluster's snapshots. */
export function snapshotBucket(cluster: string): string {
  return `${checkClusterName(cluster)}_snapshots`;
}

/** The KV bucket of node leases: one key per live node (liveness and discovery only). */
export function nodesBucket(cluster: string): string {
  return `${checkClusterName(cluster)}_nodes`;
}

/** The KV bucket of ownership records (`journal-<n>`): informational, for operators. */
export function ownersBucket(cluster: string): string {
  return `${checkClusterName(cluster)}_owners`;
}

/** The KV bucket of the cluster's fixed layout (journal and shard counts, the same on every node). */
export function layoutBucket(cluster: string): string {
  return `${checkClusterName(cluster)}_layout`;
}

/**
 * The subject a node takes requests on from the other nodes (commands, queries, actor messages).
 * A node's name may hold characters a subject token may not (`.`, `:` of `host:port`): hex-encoded.
 */
export function nodeSubject(cluster: string, node: string): string {
  return `${checkClusterName(cluster)}.node.${Buffer.from(node, 'utf8').toString('hex')}`;
}

/** The subject every node publishes its actors' events on and every node subscribes to. */
export function eventsSubject(cluster: string): string {
  return `${checkClusterName(cluster)}.events`;
}
