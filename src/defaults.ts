/**
 * The one place for every default of the server: the configuration (src/config.ts), the gateway
 * and the runtime all read them from here, so a default is changed once and documented once
 * (README, "Configuration").
 */
export const DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  dataDir: './data',
  /** Shards of a new data directory (fixed afterwards: keys hash to shards). */
  shards: 8,
  /** Snapshot partitions per shard (an actor's partition is a hash of its key). */
  partitions: 256,
  /**
   * Journal bytes a shard writes after which it snapshots. A round writes only what changed, so
   * rounds can be frequent: what they bound is the changed actors held in memory until the next
   * one (and the journal tail a restart replays).
   */
  snapshotBytes: 4 * 1024 * 1024,
  /** Actors kept in memory over all shards of a server. */
  maxActiveActors: 200_000,
  /** Actors one shard keeps in memory when nothing says otherwise (tests, tools). */
  maxActiveActorsPerShard: 20_000,
  /** Mailbox depth counted as a warning sign, and the depth at which client commands are refused. */
  mailboxSoftLimit: 1_000,
  mailboxHardLimit: 10_000,
  /**
   * A host thread's young generation (V8's semi-spaces, ×3), in MiB. A host allocates fast and
   * most of what survives a scavenge is new actors' state, which lives on: a larger young
   * generation scavenges a quarter as often for the same survivors (docs/PERFORMANCE.md).
   */
  hostYoungGenerationMb: 192,
  /** Messages one actor handles before the next actor of its shard gets a turn. */
  turnsPerActor: 64,
  cluster: {
    name: 'ordo',
    /** Journals of a new cluster (fixed afterwards; one shard each unless ORDO_CLUSTER_SHARDS says more). */
    journals: 16,
    /** A node not renewing its lease is gone after this; renewed every third of it. */
    leaseTtlMs: 5000,
    /** How often a node reads the leases and takes or releases journals. */
    pollMs: 1000,
  },
  gateway: {
    maxInFlightPerConnection: 1024,
    maxConnectionsPerToken: 1024,
    /** Unread bytes after which a subscriber is closed (1008) when an event is due. */
    maxBufferedBytes: 8 * 1024 * 1024,
    /** Reply bytes a client has not read yet after which its connection is not read. */
    maxUnwrittenBytes: 1024 * 1024,
    /** `order.list` / `feed.subscribe` of one connection that run at once. */
    maxConcurrentListings: 2,
    maxSubscriptions: 1000,
    pingIntervalMs: 30_000,
  },
} as const;
