import {
  DeliverPolicy,
  type JetStreamClient,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { PendingBatch } from '../journal/pending-batch.js';
import type { JournalRecord, ReplayStats } from '../journal/record.js';
import type { JournalSink } from '../storage/shard-store.js';
import { JournalAppendTimeoutError, JournalLostError, JournalRecordsGoneError, JournalStreamError } from './errors.js';
import {
  batchMessageId,
  decodeBatch,
  decodeFence,
  fenceMessageId,
  HEADER_ROOM,
  type MessageMeta,
  messageHeaders,
  readMeta,
  splitFrames,
} from './journal-message.js';
import { journalStream, journalSubject } from './names.js';

export interface JetStreamJournalOptions {
  nc: NatsConnection;
  /** Prefix of the stream and subject (`<cluster>_journal_<n>`, `<cluster>.journal.<n>`). */
  cluster: string;
  /** The journal's number. */
  journal: number;
  /** This node's name (unique in the cluster): written in every message it appends. */
  writer: string;
  /** Replicas of the stream when this call creates it (an existing stream keeps its own). */
  replicas?: number;
  /** Called once, when another node's fence shows this node no longer owns the journal. */
  onLost?: (err: JournalLostError) => void;
  onWarn?: (msg: string) => void;
  /** How long one publish waits for its acknowledgement before it is retried. */
  ackTimeoutMs?: number;
  /** How long an append keeps retrying without a definite answer before the journal fails. */
  retryForMs?: number;
  /** Largest message body (default: the server's max_payload less room for headers). */
  maxMessageBytes?: number;
  /**
   * How long a replay waits for its next message before it gives up (`JournalStreamError`), so
   * that a take whose stream stops delivering fails and is tried again instead of holding the
   * journal `moving` for good (default 30 s; a healthy replay gets a message every few ms).
   */
  replayStallMs?: number;
}

export interface JetStreamReplayStats extends ReplayStats {
  /** Messages read (fences included). */
  messages: number;
  /** Batch messages seen twice (the same record id), skipped. */
  duplicates: number;
  /** Batch messages of an epoch older than a fence before them, skipped (none unless fencing failed). */
  stale: number;
  /** The stream's last sequence when the replay started: the replay read up to it. */
  last: number;
}

/** One message of an append: it must land at `expect + 1`, right after the message `after`. */
interface Part {
  expect: number;
  id: string;
  /** The id of the message before it (this node's previous part, or its fence). */
  after: string;
  body: Buffer;
}

/** A retry may only follow the part before it; this says whether that one landed. */
type Landed = Promise<boolean>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Nats-Expected-Last-Msg-Id did not match (no constant for it in JetStreamApiCodes). */
const WRONG_LAST_MSG_ID = 10070;

function isWrongLast(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === WRONG_LAST_MSG_ID);
}

/**
 * A journal as one JetStream stream: the `JournalSink` of a node that owns the journal in a
 * cluster, as `Journal` is on one machine. The stream's sequence is the journal's order.
 *
 * - `acquire()` takes the journal: it appends a fence {epoch, node} at the stream's last sequence
 *   (`Nats-Expected-Last-Sequence`), with an epoch one past the newest in the stream.
 * - `append(frames)`: a group commit's batch is one message (several past the payload limit, each
 *   a prefix-safe part), appended with the expected last sequence this sole writer tracks, so
 *   appends may be pipelined. Each message's id (epoch, batch, part, writer) lets a retry after
 *   a lost acknowledgement be recognised: the server answers `duplicate` (one server) or "wrong
 *   last sequence" with our own message at that sequence (a cluster). Either way it is one record.
 * - "wrong last sequence" with another node's message there means the journal is lost: `onLost`
 *   is called and every later append is refused; nothing of this node lands after the fence.
 * - `replay(from)` reads the stream from a sequence, skipping fences, duplicate record ids and
 *   records older than a fence. `trim(covered)` purges what snapshots cover.
 *
 * The sequences are the fence's contract: KV compare-and-set and expected-last-subject-sequence
 * let two writers win on nats-server before 2.9.21 (nats-server#4320); this check never did.
 */
export class JetStreamJournal implements JournalSink {
  readonly pending = new PendingBatch();
  readonly stream: string;
  readonly subject: string;
  readonly writer: string;
  private readonly js: JetStreamClient;
  private epochNo = 0;
  private fenceAt = 0;
  /** The sequence and id of the message the next one must follow. */
  private last = 0;
  private lastId = '';
  private batchNo = 0;
  /** Settles when the most recently sent part has landed (true) or failed (false); never rejects. */
  private tail: Landed = Promise.resolve(true);
  private failure: Error | null = null;
  private readonly limit: number;
  private readonly ackTimeoutMs: number;
  private readonly replayStallMs: number;
  private readonly retryForMs: number;
  /** Messages and records acknowledged by this journal since it was opened. */
  messages = 0;
  records = 0;
  /** Record bytes acknowledged (frames, without message headers). */
  bytesWritten = 0;
  /** Appends that were retried after no answer (or an ambiguous one). */
  retries = 0;

  private constructor(
    private readonly opts: JetStreamJournalOptions,
    private readonly jsm: JetStreamManager,
  ) {
    this.stream = journalStream(opts.cluster, opts.journal);
    this.subject = journalSubject(opts.cluster, opts.journal);
    this.writer = opts.writer;
    this.js = jetstream(opts.nc);
    const serverLimit = opts.nc.info?.max_payload ?? 1024 * 1024;
    this.limit = opts.maxMessageBytes ?? serverLimit - HEADER_ROOM;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 5000;
    this.replayStallMs = opts.replayStallMs ?? 30_000;
    this.retryForMs = opts.retryForMs ?? 30_000;
  }

  /** Opens the journal's stream, creating it (file storage) if it does not exist. */
  static async open(opts: JetStreamJournalOptions): Promise<JetStreamJournal> {
    const jsm = await jetstreamManager(opts.nc);
    const j = new JetStreamJournal(opts, jsm);
    try {
      await jsm.streams.info(j.stream);
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
      await jsm.streams.add({ name: j.stream, subjects: [j.subject], storage: StorageType.File, num_replicas: opts.replicas ?? 1 }).catch(async (e) => {
        // Another node created it between our look and our create: use theirs.
        await jsm.streams.info(j.stream).catch(() => Promise.reject(e));
      });
    }
    return j;
  }

  /** The epoch this node holds the journal in (0 before `acquire`). */
  get epoch(): number {
    return this.epochNo;
  }

  /** The sequence of this node's fence: the replay of a new owner reads up to it. */
  get fenceSequence(): number {
    return this.fenceAt;
  }

  /**
   * The sequence of the last message this node appended (or its fence): with no append in
   * flight (inside a group commit's `exclusive`), every record acknowledged so far is at or before it.
   */
  get lastSequence(): number {
    return this.last;
  }

  /** Why appends are refused (a `JournalLostError` once another node took the journal), or `null`. */
  get failed(): Error | null {
    return this.failure;
  }

  /**
   * Takes the journal: appends a fence {epoch, node} right after the stream's last message, the
   * epoch one past that message's. Another node appending meanwhile moves the last sequence and
   * the fence is retried after it. Call with no append in flight (before the first, or after a loss).
   */
  async acquire(): Promise<{ epoch: number; seq: number }> {
    const deadline = Date.now() + this.retryForMs;
    for (;;) {
      const { state } = await this.jsm.streams.info(this.stream);
      const last = state.last_seq;
      const before = last > 0 ? await this.metaAt(last) : null;
      if (last > 0 && !before) throw new JournalStreamError(`the last message (${last}) of ${this.stream} is not an ordo message or is gone`);
      const epoch = (before?.epoch ?? 0) + 1;
      const id = fenceMessageId(epoch, this.writer);
      const body = Buffer.from(JSON.stringify({ epoch, node: this.writer }));
      let seq: number | null = null;
      try {
        const ack = await this.js.publish(this.subject, body, {
          msgID: id,
          expect: { lastSequence: last },
          headers: messageHeaders('fence', epoch, this.writer),
          timeout: this.ackTimeoutMs,
        });
        seq = ack.seq;
      } catch (err) {
        if (err instanceof JetStreamApiError && !isWrongLast(err)) throw err;
        // Someone appended first, or our fence landed and its ack was lost: look.
        const there = await this.metaAt(last + 1).catch(() => null);
        if (there?.id === id) seq = last + 1;
        else if (Date.now() > deadline) throw new JournalAppendTimeoutError(`could not fence ${this.stream} within ${this.retryForMs} ms`, { cause: err });
      }
      if (seq !== null) {
        this.epochNo = epoch;
        this.fenceAt = seq;
        this.last = seq;
        this.lastId = id;
        this.batchNo = 0;
        this.failure = null;
        this.tail = Promise.resolve(true);
        return { epoch, seq };
      }
    }
  }

  append(frames: Buffer[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.epochNo === 0) return Promise.reject(new JournalStreamError(`append to ${this.stream} before acquire()`));
    if (frames.length === 0) return Promise.resolve();
    let groups: Buffer[][];
    try {
      groups = splitFrames(frames, this.limit, this.stream);
    } catch (err) {
      return Promise.reject(err);
    }
    const batch = ++this.batchNo;
    const sent: Promise<void>[] = [];
    groups.forEach((g, i) => {
      const id = batchMessageId(this.epochNo, batch, i, this.writer);
      const part: Part = { expect: this.last, id, after: this.lastId, body: g.length === 1 ? g[0]! : Buffer.concat(g) };
      this.last++;
      this.lastId = id;
      const landed = this.send(part, this.tail);
      this.tail = landed.then(() => true, () => false);
      sent.push(landed);
    });
    return Promise.all(sent).then(() => {
      this.messages += groups.length;
      this.records += frames.length;
      for (const f of frames) this.bytesWritten += f.length;
    });
  }

  /**
   * Publishes one part; retries (after the part before it has landed) until it has a definite
   * answer. It expects both the sequence and the id of the message before it: a pipelined part
   * whose predecessor was refused must not land by coincidence right after another node's fence
   * (whose sequence it may well expect). And it counts as landed only once its predecessor has.
   */
  private async send(p: Part, before: Landed): Promise<void> {
    const deadline = Date.now() + this.retryForMs;
    let checkId = true;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        this.retries++;
        if (!(await before)) throw this.failure ?? this.fail(new JournalStreamError(`an earlier append to ${this.stream} failed; message ${p.expect + 1} cannot follow it`));
      }
      try {
        const ack = await this.js.publish(this.subject, p.body, {
          msgID: p.id,
          expect: checkId ? { lastSequence: p.expect, lastMsgID: p.after } : { lastSequence: p.expect },
          headers: messageHeaders('batch', this.epochNo, this.writer),
          timeout: this.ackTimeoutMs,
        });
        if (ack.seq !== p.expect + 1) throw this.fail(new JournalStreamError(`${this.stream} stored ${p.id} at ${ack.seq}, not ${p.expect + 1}`));
        return await this.afterLanded(before);
      } catch (err) {
        if (err === this.failure) throw err;
        if (isWrongLast(err)) {
          const there = await this.metaAt(p.expect + 1).catch(() => undefined);
          // Our own message: an earlier try landed and its ack was lost.
          if (there?.id === p.id) return await this.afterLanded(before);
          if (there && (there.writer !== this.writer || there.epoch !== this.epochNo)) throw this.lose(p.expect + 1, there);
          if (there) throw this.fail(new JournalStreamError(`${this.stream} holds ${there.id} at ${p.expect + 1} where ${p.id} belongs`));
          // Nothing there. On the first try: the part before ours has not landed yet (it is being
          // retried); try again after it. After it landed: look at what is last.
          if (attempt > 0 && there === null) {
            const prev = await this.metaAt(p.expect);
            if (prev?.id !== p.after) {
              if (prev && (prev.writer !== this.writer || prev.epoch !== this.epochNo)) throw this.lose(p.expect, prev);
              throw this.fail(new JournalStreamError(`${this.stream} has no message ${p.expect + 1} and not ${p.after} at ${p.expect}, though every append before it landed (did the server lose acknowledged messages?)`));
            }
            // Our predecessor is the last message, yet its id did not match: the server no longer
            // knows the last id (it does not always keep it). The sequence alone is exact now.
            checkId = false;
          }
        } else if (err instanceof JetStreamApiError || this.opts.nc.isClosed()) {
          throw this.fail(err as Error);
        } else {
          // No answer (a timeout, no responders during a leader election): the message may or may not have landed.
          await sleep(Math.min(50 * 2 ** attempt, 1000));
        }
        if (Date.now() > deadline) throw this.fail(new JournalAppendTimeoutError(`no answer from ${this.stream} for ${p.id} within ${this.retryForMs} ms`, { cause: err }));
      }
    }
  }

  /** A part landed: it is acknowledged once the part before it is (or fails with it). */
  private async afterLanded(before: Landed): Promise<void> {
    if (await before) return;
    throw this.failure ?? this.fail(new JournalStreamError(`an earlier append to ${this.stream} failed`));
  }

  /** The message at `seq`: its headers, or `null` when there is none (or it is not ordo's). */
  private async metaAt(seq: number): Promise<MessageMeta | null> {
    const m = await this.jsm.streams.getMessage(this.stream, { seq });
    return m ? readMeta(m.header) : null;
  }

  private fail(err: Error): Error {
    this.failure ??= err;
    return this.failure;
  }

  private lose(seq: number, there: MessageMeta): Error {
    if (this.failure) return this.failure;
    const lost = new JournalLostError(this.stream, seq, there.writer || null);
    this.failure = lost;
    this.opts.onWarn?.(lost.message);
    this.opts.onLost?.(lost);
    return lost;
  }

  /**
   * Reads every record from sequence `from` up to the stream's last message at the start of the
   * call, in order, each with its message's sequence. A record id seen twice is skipped, and so is
   * a batch older than the newest fence before it (which fencing makes impossible: it is counted
   * in `stale` and warned about).
   */
  async replay(from: number, onRecord: (rec: JournalRecord, seq: number) => void, opts: { complete?: boolean } = {}): Promise<JetStreamReplayStats> {
    const { state } = await this.jsm.streams.info(this.stream);
    const stats: JetStreamReplayStats = { records: 0, bytes: 0, truncated: 0, messages: 0, duplicates: 0, stale: 0, last: state.last_seq };
    const start = Math.max(from, state.first_seq, 1);
    // `complete`: the caller needs every message from `from` on (a recovery on a snapshot covering
    // from - 1). Trims never purge past what every snapshot covers, so a gap means a trim based on
    // a snapshot the caller did not see: a node that lost the journal finishing its hand-over
    // while we read. Failing lets the caller look again (that snapshot is there now).
    const gone = () => new JournalRecordsGoneError(`${this.stream}: messages from ${from} were purged while they were needed (a concurrent trim); recover again`);
    if (opts.complete && state.messages > 0 && Math.max(from, 1) < state.first_seq) throw gone();
    if (state.messages === 0 || start > state.last_seq) return stats;
    let expected = start;
    const consumer = await this.js.consumers.get(this.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start });
    const msgs = await consumer.consume({ max_messages: 256 });
    const seen = new Set<string>();
    let fenceEpoch = 0;
    // Nothing for replayStallMs while messages remain: the iteration is ended, and reported below.
    let stalled = false;
    const stall = setTimeout(() => {
      stalled = true;
      void msgs.stop();
    }, this.replayStallMs);
    try {
      for await (const m of msgs) {
        stall.refresh();
        if (opts.complete && m.seq !== expected) throw gone();
        expected = m.seq + 1;
        stats.messages++;
        const meta = readMeta(m.headers);
        if (!meta) throw new JournalStreamError(`message ${m.seq} of ${this.stream} is not an ordo message`);
        if (meta.kind === 'fence') {
          fenceEpoch = Math.max(fenceEpoch, decodeFence(m.data).epoch);
        } else if (meta.epoch < fenceEpoch) {
          stats.stale++;
          this.opts.onWarn?.(`${this.stream}: skipped message ${m.seq} of epoch ${meta.epoch} after a fence of epoch ${fenceEpoch}`);
        } else if (seen.has(meta.id)) {
          stats.duplicates++;
        } else {
          seen.add(meta.id);
          fenceEpoch = Math.max(fenceEpoch, meta.epoch);
          stats.bytes += m.data.length;
          for (const rec of decodeBatch(m.data, this.stream, m.seq)) {
            stats.records++;
            onRecord(rec, m.seq);
          }
        }
        if (m.seq >= state.last_seq) break;
      }
    } finally {
      clearTimeout(stall);
      msgs.stop();
    }
    // A replay that ends short of the last message is not a replay: the caller would serve without its tail.
    if (stalled) throw new JournalStreamError(`${this.stream}: replay stalled: no message for ${this.replayStallMs} ms after sequence ${expected - 1} of ${state.last_seq}`);
    if (expected <= state.last_seq) throw new JournalStreamError(`${this.stream}: replay ended after sequence ${expected - 1} of ${state.last_seq}`);
    return stats;
  }

  /**
   * Snapshots cover every record up to sequence `covered`: purges those messages, keeping the
   * last message of the stream whatever it covers (the next `acquire` reads its epoch there).
   * Returns the number of messages purged.
   */
  async trim(covered: number): Promise<number> {
    if (this.failure) throw this.failure;
    const { state } = await this.jsm.streams.info(this.stream);
    const keepFrom = Math.min(covered + 1, state.last_seq);
    if (keepFrom <= state.first_seq) return 0;
    const r = await this.jsm.streams.purge(this.stream, { seq: keepFrom });
    return r.purged;
  }

  /**
   * Whether this node's epoch is still the newest in the stream (its fence or its own batch is the
   * last message). An owner that appends nothing learns of a takeover only this way: a node that
   * fenced it and then let go (their views of the leases differed for a poll) leaves it fenced.
   */
  async stillOwner(): Promise<boolean> {
    if (this.failure || this.epochNo === 0) return false;
    const { state } = await this.jsm.streams.info(this.stream);
    const meta = state.last_seq > 0 ? await this.metaAt(state.last_seq) : null;
    return !!meta && meta.epoch === this.epochNo && meta.writer === this.writer;
  }

  /** Waits for the appends in flight to settle; the connection belongs to the caller. */
  async close(): Promise<void> {
    await this.tail;
  }
}
