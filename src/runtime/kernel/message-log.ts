import type { NoteArg } from '../../actors/behaviour.js';
import type { Envelope } from './envelope.js';

export type { NoteArg } from '../../actors/behaviour.js';

/** One line of an actor's message log: what it received, from whom, and what it decided. */
export interface LogEntry {
  at: number;
  from: string;
  message: string;
  decisions: string[];
  outcome?: string;
}

/**
 * A turn's notes as `TurnContext` collects them: the first one unformatted (its text and up to
 * three arguments, formatted only when the log is read), any further ones formatted at once
 * (rare: most turns note one thing, or nothing).
 */
export interface TurnNotes {
  readonly noteText: string | null;
  readonly noteA: NoteArg | undefined;
  readonly noteB: NoteArg | undefined;
  readonly noteC: NoteArg | undefined;
  readonly moreNotes: string[] | null;
}

/** How many lines of one actor a read shows (its latest). */
export const LOG_LIMIT = 16;

/**
 * How many turns a shard's log keeps, all its actors together, by default: under a sustained
 * load of ~20k placements/s over 8 shards about a second of history, at a shop's ordinary pace
 * minutes; ~1.5 MiB per shard, allocated at its first turn.
 */
export const SHARD_LOG_LINES = 16_384;

/** `text` with its `{}` placeholders replaced by `a`, `b`, `c` in turn; as is without arguments. */
export function formatNote(text: string, a?: NoteArg, b?: NoteArg, c?: NoteArg): string {
  if (a === undefined && b === undefined && c === undefined) return text;
  let n = 0;
  // As a template literal would show them; a placeholder past the third stays as it is.
  return text.replace(/\{\}/g, () => (n === 0 ? (n++, String(a)) : n === 1 ? (n++, String(b)) : n === 2 ? (n++, String(c)) : '{}'));
}

/** One formatted note as a turn's notes (what supervision logs for a turn that threw). */
export function singleNote(text: string): TurnNotes {
  return { noteText: text, noteA: undefined, noteB: undefined, noteC: undefined, moreNotes: null };
}

// Who sent a message and what it was, in the parts a log line is formatted from: the message's
// kind and two strings the message already holds, so that logging a turn builds no string.

/** cmd: the principal's role; req, reply: the sender; timer: `timer`. */
function whoOf(env: Envelope): string {
  switch (env.t) {
    case 'cmd':
      return env.principal.role;
    case 'req':
    case 'reply':
      return env.from;
    case 'timer':
      return 'timer';
  }
}

/** cmd, req: the message type; reply: `ok` or the error code; timer: the timer's name. */
function whatOf(env: Envelope): string {
  switch (env.t) {
    case 'cmd':
      return env.command.type;
    case 'req':
      return env.request.type;
    case 'reply':
      return env.reply.ok ? 'ok' : env.reply.error.code;
    case 'timer':
      return env.name;
  }
}

function formatFrom(t: Envelope['t'], who: string): string {
  return t === 'cmd' ? `client(${who})` : who;
}

function formatMessage(t: Envelope['t'], what: string): string {
  return t === 'reply' ? `reply ${what}` : t === 'timer' ? `timer ${what}` : what;
}

/** Who sent a message and what it was, as an actor's message log and dead letters show it. */
export function describe(env: Envelope): { from: string; message: string } {
  return { from: formatFrom(env.t, whoOf(env)), message: formatMessage(env.t, whatOf(env)) };
}

/**
 * A shard's flight recorder: the latest turns of all its actors, as operators read them
 * (`actor.inspect`, one actor's latest `LOG_LIMIT` lines). A turn is logged on the hottest path
 * of the runtime and most lines are never read, so a line is only the references the turn
 * already has (the actor's key, the message's kind, sender and type, the outcome, the first
 * note's text and arguments), stored in one column per field of a ring of a fixed number of
 * lines; a `LogEntry` is formatted only when it is read.
 *
 * One ring per shard rather than a log per actor: an actor's log was an array of its own, and
 * every order set aside packed it into its compact form, which every placement then paid for
 * in allocation and in copies by the young-generation collector (docs/PERFORMANCE.md, the
 * eleventh round). The price is the horizon: an actor's lines last as long as the shard's
 * latest `capacity` turns, not as long as the actor stays in memory.
 */
export class MessageLog {
  // One column per field, each allocated whole at the first line (`columns`): a column grown by
  // `push` was copied at every growth, and those copies outlived young-generation collections
  // (~0.4 KB per placement promoted over a 50,000-placement run while the rings filled;
  // docs/PERFORMANCE.md, the twelfth round). Times are a Float64Array: plain numbers, never boxed.
  private at: Float64Array | null = null;
  private keys: string[] = [];
  private kinds: Envelope['t'][] = [];
  private who: string[] = [];
  private what: string[] = [];
  private outcome: (string | undefined)[] = [];
  private text: (string | null)[] = [];
  private argA: (NoteArg | undefined)[] = [];
  private argB: (NoteArg | undefined)[] = [];
  private argC: (NoteArg | undefined)[] = [];
  private more: (string[] | null)[] = [];
  /** Where the next line goes. */
  private head = 0;
  /** Lines written, up to `capacity`. */
  private count = 0;

  constructor(readonly capacity = SHARD_LOG_LINES) {
    if (!(capacity >= 1)) throw new RangeError(`a message log holds at least one line, not ${capacity}`);
  }

  /** Lines held, all actors together. */
  get length(): number {
    return this.count;
  }

  /** The ring's columns, allocated at the first line (a shard that never runs a turn has none). */
  private columns(): Float64Array {
    const n = this.capacity;
    // Each an array of its final length, written in place from then on.
    const column = <T>(empty: T): T[] => new Array<T>(n).fill(empty);
    this.keys = column('');
    this.kinds = column<Envelope['t']>('cmd');
    this.who = column('');
    this.what = column('');
    this.outcome = column<string | undefined>(undefined);
    this.text = column<string | null>(null);
    this.argA = column<NoteArg | undefined>(undefined);
    this.argB = column<NoteArg | undefined>(undefined);
    this.argC = column<NoteArg | undefined>(undefined);
    this.more = column<string[] | null>(null);
    return (this.at = new Float64Array(n));
  }

  /** Logs a turn of actor `key` on `env` (or what became of it: a turn that threw). */
  add(key: string, at: number, env: Envelope, notes: TurnNotes, outcome: string | undefined): void {
    const times = this.at ?? this.columns();
    const i = this.head;
    this.head = i + 1 === this.capacity ? 0 : i + 1;
    if (this.count < this.capacity) this.count++;
    this.keys[i] = key;
    times[i] = at;
    this.kinds[i] = env.t;
    this.who[i] = whoOf(env);
    this.what[i] = whatOf(env);
    this.outcome[i] = outcome;
    this.text[i] = notes.noteText;
    this.argA[i] = notes.noteA;
    this.argB[i] = notes.noteB;
    this.argC[i] = notes.noteC;
    this.more[i] = notes.moreNotes;
  }

  /** Actor `key`'s latest `limit` lines still held, oldest first, as fresh objects (the caller may keep or change them). */
  entries(key: string, limit = LOG_LIMIT): LogEntry[] {
    const n = this.capacity;
    const found: number[] = [];
    // Newest first: the line before `head`, back over the lines written.
    for (let j = 0; j < this.count && found.length < limit; j++) {
      const i = (this.head - 1 - j + n) % n;
      if (this.keys[i] === key) found.push(i);
    }
    return found.reverse().map((i) => this.entry(i));
  }

  private entry(i: number): LogEntry {
    const t = this.kinds[i]!;
    const text = this.text[i]!;
    const more = this.more[i]!;
    const decisions = text === null ? [] : [formatNote(text, this.argA[i], this.argB[i], this.argC[i])];
    if (more !== null) decisions.push(...more);
    return {
      at: this.at![i]!,
      from: formatFrom(t, this.who[i]!),
      message: formatMessage(t, this.what[i]!),
      decisions,
      // Present even when undefined (a turn that replied nothing), as a line always had it.
      outcome: this.outcome[i],
    };
  }
}
