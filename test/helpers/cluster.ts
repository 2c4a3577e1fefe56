import { rm } from 'node:fs/promises';
import { OrdoClient, type ReplyFrame } from '../../src/client/ordo-client.js';
import type { RouteView } from '../../src/runtime/cluster/owner-routes.js';
import { type ChildServer, spawnServer } from './child-server.js';
import { tempDir } from './server.js';

/** Short lease and poll times so a failover takes seconds in the suite. */
export const CLUSTER_ENV = { ORDO_LEASE_TTL_MS: '2000', ORDO_CLUSTER_POLL_MS: '250' };

/** One ordo node as a real process (`ordo serve --nats ...`), on its own data directory. */
export interface ClusterNode {
  id: string;
  dataDir: string;
  server: ChildServer;
  url: string;
  health(): Promise<NodeHealth | null>;
}

export interface NodeHealth {
  status: string;
  node: string;
  members: string[];
  owned: { journal: number; epoch: number }[];
  /** Journals this node is taking or releasing now. */
  moving: number[];
  /** Where this node sends each journal's commands (node null: no owner known). */
  routes: RouteView[];
}

export async function spawnNode(natsUrl: string, id: string, cluster: string, env: Record<string, string> = {}, dataDir?: string): Promise<ClusterNode> {
  const dir = dataDir ?? (await tempDir(`ordo-node-${id}-`));
  const server = await spawnServer(dir, { ...CLUSTER_ENV, ...env }, ['--nats', natsUrl, '--cluster', cluster, '--node-id', id]);
  const http = `http://127.0.0.1:${server.port}/healthz`;
  return {
    id,
    dataDir: dir,
    server,
    url: server.url,
    async health() {
      try {
        const r = await fetch(http);
        return (await r.json()) as NodeHealth;
      } catch {
        return null;
      }
    },
  };
}

export async function disposeNode(n: ClusterNode): Promise<void> {
  if (n.server.proc.exitCode === null && n.server.proc.signalCode === null) await n.server.kill('SIGKILL');
  await rm(n.dataDir, { recursive: true, force: true });
}

export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000, every = 50, detail?: () => string | Promise<string>): Promise<number> {
  const started = Date.now();
  while (!(await cond())) {
    if (Date.now() - started > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail ? ` (${await detail()})` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
  return Date.now() - started;
}

/** journal → the node whose own /healthz (`hs[i]` of `nodes[i]`) lists it as owned. */
function ownersOf(nodes: ClusterNode[], hs: (NodeHealth | null)[]): Map<number, string> {
  const ownerOf = new Map<number, string>();
  hs.forEach((h, i) => h?.owned.forEach((o) => ownerOf.set(o.journal, nodes[i]!.id)));
  return ownerOf;
}

/**
 * Who is ready, owns what and is taking or releasing what, by each node's own /healthz: what a
 * wait for `converged` reports when it times out. With `logLines`, each node's last lines of
 * output follow (its log: what it took, released, lost and why a take failed).
 */
export async function ownership(nodes: ClusterNode[], logLines = 0): Promise<string> {
  const hs = await Promise.all(nodes.map((n) => n.health()));
  const ownerOf = ownersOf(nodes, hs);
  const summary = nodes.map((n, i) => {
    const h = hs[i];
    if (!h) return `${n.id}: no answer`;
    // Routes that name another node than the owner: where this node's traffic for them goes astray.
    const astray = h.routes.filter((r) => ownerOf.has(r.journal) && r.node !== ownerOf.get(r.journal)).map((r) => `${r.journal}→${r.node ?? 'none'}`);
    return `${n.id}: ${h.status}, ${h.members.length} members, owns [${h.owned.map((o) => o.journal).join(',')}], moving [${h.moving.join(',')}]${astray.length ? `, routes astray [${astray.join(',')}]` : ''}`;
  }).join('; ');
  if (logLines <= 0) return summary;
  return [summary, ...nodes.map((n) => recentOutput(n, logLines))].join('\n');
}

/** A node's last `lines` lines of output (its log), indented, for a failure message. */
export function recentOutput(n: ClusterNode, lines: number): string {
  const out = n.server.output;
  const tail = out.slice(-lines);
  const head = `--- ${n.id}: last ${tail.length} of ${out.length} lines of output ---`;
  return [head, ...tail.map((l) => `    ${l}`)].join('\n');
}

/**
 * Every node's routes (its /healthz) name, for every journal, the node whose own /healthz says it
 * owns it: what a command through any node needs to reach its owner without a detour.
 */
export async function routesAgree(nodes: ClusterNode[], journals = 16): Promise<boolean> {
  const hs = await Promise.all(nodes.map((n) => n.health()));
  if (hs.some((h) => !h)) return false;
  const ownerOf = ownersOf(nodes, hs);
  if (ownerOf.size !== journals) return false;
  return hs.every((h) => h!.routes.length === journals && h!.routes.every((r) => r.node === ownerOf.get(r.journal)));
}

/**
 * Every journal owned exactly once among `nodes` (by their own /healthz), each owning some, and
 * no take or release under way on any (a take still replaying may yet fence an owner listed).
 */
export async function converged(nodes: ClusterNode[], journals = 16): Promise<boolean> {
  const hs = await Promise.all(nodes.map((n) => n.health()));
  if (hs.some((h) => !h || h.status !== 'ready' || h.members.length !== nodes.length || h.moving.length > 0)) return false;
  const owned = hs.flatMap((h) => h!.owned.map((o) => o.journal));
  return owned.length === journals && new Set(owned).size === journals && hs.every((h) => h!.owned.length > 0);
}

/**
 * A client that retries the same command on the next node when an attempt gets no definite
 * answer (the connection died, UNAVAILABLE, OVERLOADED, INTERNAL, a timeout), as the protocol
 * lets a client retry: the accept table makes a repeat with the same ids safe.
 */
export class RetryingClient {
  private conns = new Map<string, OrdoClient>();
  attempts = 0;
  retries = 0;
  /** Why attempts were retried, by reason (an error code, `timeout`, `no connection`): for failure messages. */
  readonly refusals = new Map<string, number>();

  constructor(
    private readonly nodes: () => ClusterNode[],
    private readonly token = 'tok-admin',
  ) {}

  private async conn(url: string): Promise<OrdoClient | null> {
    const c = this.conns.get(url);
    if (c && c.closeCode === null) return c;
    try {
      const fresh = await OrdoClient.connect(url, this.token);
      this.conns.set(url, fresh);
      return fresh;
    } catch {
      return null;
    }
  }

  async call(type: string, args: Record<string, unknown>, start = 0, timeoutMs = 15_000): Promise<ReplyFrame> {
    let last = '';
    // Bounded by time, not by attempts: refusals can come fast (a connection refused, INTERNAL
    // while a stream leader is elected), and what matters is whether the cluster answers in time.
    const giveUpAt = Date.now() + 90_000;
    for (let i = start; ; i++) {
      const live = this.nodes();
      const node = live[i % live.length]!;
      this.attempts++;
      const c = await this.conn(node.url);
      if (c) {
        let timer: NodeJS.Timeout | undefined;
        const r = await Promise.race([
          c.call(type, args),
          new Promise<null>((res) => (timer = setTimeout(() => res(null), timeoutMs))),
        ]).finally(() => clearTimeout(timer));
        if (r && (r.ok || !['CLOSED', 'UNAVAILABLE', 'OVERLOADED', 'INTERNAL'].includes(r.error?.code ?? ''))) return r;
        last = `${node.id}: ${r ? JSON.stringify(r.error) : `no reply within ${timeoutMs} ms`}`;
        this.refused(r ? (r.error?.code ?? 'unknown') : 'timeout');
      } else {
        last = `${node.id}: cannot connect (exit ${node.server.proc.exitCode ?? node.server.proc.signalCode ?? 'none'}; ${node.server.output.slice(-3).join(' | ')})`;
        this.refused('no connection');
      }
      this.retries++;
      if (Date.now() > giveUpAt) throw new Error(`${type} ${JSON.stringify(args)}: no definite answer within 90 s (${i - start + 1} attempts); last: ${last}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private refused(why: string): void {
    this.refusals.set(why, (this.refusals.get(why) ?? 0) + 1);
  }

  async close(): Promise<void> {
    for (const c of this.conns.values()) await c.close().catch(() => {});
  }
}

/** What retrying clients were refused, summed, for a failure message: `UNAVAILABLE×3, timeout×1`. */
export function refusalsOf(clients: RetryingClient[]): string {
  const all = new Map<string, number>();
  for (const c of clients) for (const [why, n] of c.refusals) all.set(why, (all.get(why) ?? 0) + n);
  return [...all].map(([why, n]) => `${why}×${n}`).join(', ') || 'none';
}
