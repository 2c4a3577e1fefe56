import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

const managers = new WeakMap<NatsConnection, Promise<JetStreamManager>>();

/**
 * The keys of a KV bucket that have a message now (deleted keys included: their marker is one),
 * from one stream-info request; the caller reads each (a key gone meanwhile reads as null).
 * `KV.keys()` is not used for leases: it runs a consumer that waits until it has delivered the
 * pending count it read first, so a key expiring by age in between can leave it waiting (a run of
 * the ownership tests hung once with it; this is the likely cause).
 */
export async function bucketKeys(nc: NatsConnection, bucket: string): Promise<string[]> {
  let jsm = managers.get(nc);
  if (!jsm) managers.set(nc, (jsm = jetstreamManager(nc)));
  const prefix = `$KV.${bucket}.`;
  const info = await (await jsm).streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` });
  return Object.keys(info.state.subjects ?? {})
    .filter((s) => s.startsWith(prefix))
    .map((s) => s.slice(prefix.length))
    .sort();
}
