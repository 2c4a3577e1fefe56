import { Kvm } from '@nats-io/kv';
import { StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createBucket } from './bucket-create.js';
import { layoutBucket } from './names.js';

/** The cluster's fixed layout: keys hash to shards, shards map to journals (placement.ts). */
export interface ClusterLayout {
  journals: number;
  shards: number;
}

/** Journals of a new cluster: enough to spread over a dozen nodes, few enough to take quickly. */
export const DEFAULT_CLUSTER_JOURNALS = 16;

/**
 * Reads the cluster's layout, or writes `wanted` if the cluster has none yet (the first node
 * decides; `create` fails for the second writer, which then reads the first's). A node asking for
 * a different layout gets the stored one and a warning: each shard's snapshots and each journal's
 * stream are named by number, so the counts cannot change under a running cluster.
 */
export async function openClusterLayout(nc: NatsConnection, cluster: string, wanted: ClusterLayout, replicas = 1, onWarn: (m: string) => void = () => {}): Promise<ClusterLayout> {
  const kv = await createBucket(() => new Kvm(nc).create(layoutBucket(cluster), { history: 1, storage: StorageType.File, replicas }));
  try {
    await kv.create('layout', JSON.stringify(wanted));
    return wanted;
  } catch {
    const e = await kv.get('layout');
    if (!e || e.operation !== 'PUT') throw new Error(`cluster ${cluster}: its layout could not be written nor read`);
    const stored = e.json<ClusterLayout>();
    if (stored.journals !== wanted.journals || stored.shards !== wanted.shards) {
      onWarn(`cluster ${cluster} has ${stored.journals} journals and ${stored.shards} shards (fixed when it was created); using those, not ${wanted.journals} and ${wanted.shards}`);
    }
    return stored;
  }
}
