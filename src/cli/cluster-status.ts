import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DEFAULTS } from '../defaults.js';
import type { ClusterLayout } from '../runtime/cluster/cluster-layout.js';
import { bucketKeys } from '../runtime/cluster/kv-keys.js';
import { journalStream, layoutBucket, nodesBucket } from '../runtime/cluster/names.js';
import type { NodeInfo } from '../runtime/cluster/node-lease.js';
import { type OwnerRecord, OwnerRecords } from '../runtime/cluster/owner-records.js';
import { Failure, UsageError } from './usage.js';

export interface ClusterStatus {
  cluster: string;
  server: string;
  journals: number;
  shards: number;
  members: (NodeInfo & { renewedMsAgo: number })[];
  owners: { journal: number; owner: (OwnerRecord & { live: boolean }) | null; lastSequence: number; messages: number }[];
}

/**
 * `ordo cluster status`: who is in the cluster (leases), who owns which journal since when and
 * at which sequence (the owner records; informational, as the owner is the newest fence in each
 * stream), and each journal stream's last sequence and length. Reads only: it joins nothing.
 */
export async function cluster(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'status') throw new UsageError(`unknown cluster command ${sub ?? '(none)'} (see ordo cluster --help)`);
  const { values } = parseArgs({ args: rest, options: { nats: { type: 'string' }, cluster: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  const servers = (values.nats ?? env.ORDO_NATS_URL ?? env.ORDO_NATS ?? 'nats://127.0.0.1:4222').split(',').map((s) => s.trim());
  const name = values.cluster ?? env.ORDO_CLUSTER ?? DEFAULTS.cluster.name;
  let nc: NatsConnection;
  try {
    nc = await connect({ servers, name: 'ordo cluster status', timeout: 3000 });
  } catch (err) {
    throw new Failure(`cannot connect to NATS at ${servers.join(',')}: ${(err as Error).message}`);
  }
  try {
    const status = await readStatus(nc, name);
    console.log(values.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    return 0;
  } finally {
    await nc.close();
  }
}

async function readStatus(nc: NatsConnection, cluster: string): Promise<ClusterStatus> {
  const kvm = new Kvm(nc);
  let layout: ClusterLayout;
  try {
    const e = await (await kvm.open(layoutBucket(cluster))).get('layout');
    if (!e || e.operation !== 'PUT') throw new Error('no layout');
    layout = e.json<ClusterLayout>();
  } catch {
    throw new Failure(`no cluster ${cluster} in this NATS (no layout in ${layoutBucket(cluster)}; has a node run with --cluster ${cluster}?)`);
  }
  const nodesKv = await kvm.open(nodesBucket(cluster));
  const now = Date.now();
  const members: ClusterStatus['members'] = [];
  for (const k of await bucketKeys(nc, nodesBucket(cluster))) {
    const e = await nodesKv.get(k);
    if (!e || e.operation !== 'PUT') continue;
    members.push({ ...e.json<NodeInfo>(), renewedMsAgo: Math.max(0, now - e.created.getTime()) });
  }
  members.sort((a, b) => (a.node < b.node ? -1 : 1));
  const live = new Set(members.map((m) => m.node));
  const records = await (await OwnerRecords.open(nc, cluster)).list();
  const jsm = await jetstreamManager(nc);
  const owners: ClusterStatus['owners'] = [];
  for (let j = 0; j < layout.journals; j++) {
    const info = await jsm.streams.info(journalStream(cluster, j)).catch(() => null);
    const r = records.get(j);
    owners.push({ journal: j, owner: r ? { ...r, live: live.has(r.node) } : null, lastSequence: info?.state.last_seq ?? 0, messages: info?.state.messages ?? 0 });
  }
  return { cluster, server: nc.info?.version ?? '?', journals: layout.journals, shards: layout.shards, members, owners };
}

function formatStatus(s: ClusterStatus): string {
  const lines = [`cluster ${s.cluster}: ${s.journals} journals, ${s.shards} shards, nats-server ${s.server}`, `members (${s.members.length}):`];
  for (const m of s.members) lines.push(`  ${m.node.padEnd(24)} ${m.url.padEnd(32)} up since ${new Date(m.startedAt).toISOString()}, renewed ${m.renewedMsAgo} ms ago`);
  lines.push('journal  owner                     epoch  since                     fence seq  last seq  messages');
  for (const o of s.owners) {
    const r = o.owner;
    const who = r ? `${r.node}${r.live ? '' : ' (gone)'}` : '(none)';
    lines.push(
      `${String(o.journal).padEnd(8)} ${who.padEnd(25)} ${String(r?.epoch ?? '-').padEnd(6)} ${(r ? new Date(r.since).toISOString() : '-').padEnd(25)} ${String(r?.sequence ?? '-').padEnd(10)} ${String(o.lastSequence).padEnd(9)} ${o.messages}`,
    );
  }
  return lines.join('\n');
}
