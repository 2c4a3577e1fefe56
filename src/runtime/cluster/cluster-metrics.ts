import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ClusterRuntime } from './cluster-runtime.js';

/**
 * A cluster node's series on the gateway's `/metrics`: what it owns, since when and at which
 * sequence, the lag of each owned stream's replicas (from the stream's cluster info: operations a
 * replica is behind its leader, 0 on a single server), and its takes, releases, losses and
 * UNAVAILABLE answers.
 */
export function registerClusterMetrics(registry: Registry, rt: ClusterRuntime): void {
  let jsm: Promise<JetStreamManager> | null = null;
  new Gauge({
    name: 'ordo_cluster_members',
    help: 'Nodes this node counts in the cluster (settled leases)',
    registers: [registry],
    collect() {
      this.set(rt.members.length);
    },
  });
  new Gauge({
    name: 'ordo_cluster_journals_owned',
    help: 'Journals this node owns and serves',
    registers: [registry],
    collect() {
      this.set(rt.owned.length);
    },
  });
  new Gauge({
    name: 'ordo_cluster_journal_epoch',
    help: 'The epoch of each journal this node owns (its fence)',
    labelNames: ['journal'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const h of rt.hosts.values()) if (h.serving) this.set({ journal: String(h.journalNo) }, h.epoch);
    },
  });
  new Gauge({
    name: 'ordo_cluster_journal_sequence',
    help: 'The stream sequence of the last message this node appended to each journal it owns',
    labelNames: ['journal'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const h of rt.hosts.values()) if (h.serving) this.set({ journal: String(h.journalNo) }, h.journal.lastSequence);
    },
  });
  new Gauge({
    name: 'ordo_cluster_journal_owned_seconds',
    help: 'How long this node has owned each journal',
    labelNames: ['journal'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const h of rt.hosts.values()) if (h.serving) this.set({ journal: String(h.journalNo) }, (Date.now() - h.since) / 1000);
    },
  });
  new Gauge({
    name: 'ordo_cluster_replica_lag',
    help: 'Operations a replica of an owned journal stream is behind its leader (NATS cluster info)',
    labelNames: ['journal', 'replica'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      jsm ??= jetstreamManager(rt.nc);
      const m = await jsm.catch(() => null);
      if (!m) return;
      await Promise.all(
        [...rt.hosts.values()]
          .filter((h) => h.serving)
          .map(async (h) => {
            const info = await m.streams.info(h.journal.stream).catch(() => null);
            for (const r of info?.cluster?.replicas ?? []) this.set({ journal: String(h.journalNo), replica: r.name }, r.lag ?? 0);
          }),
      );
    },
  });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter('ordo_cluster_takes_total', 'Journals taken (fenced, recovered, served) since start', () => rt.taken);
  counter('ordo_cluster_releases_total', 'Journals handed over since start', () => rt.released);
  counter('ordo_cluster_lost_total', 'Journals lost to another node (fenced) or unwritable since start', () => rt.lost);
  counter('ordo_cluster_unavailable_total', 'Commands answered UNAVAILABLE (no owner within the wait)', () => rt.unavailable);
  counter('ordo_cluster_owner_records_rewritten_total', 'Owner records of journals served here found missing or stale and written again', () => rt.ownerRecordsRewritten);
}
