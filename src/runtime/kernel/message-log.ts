import type { Envelope } from './envelope.js';

/** One line of an actor's message log: what it received, from whom, and what it decided. */
export interface LogEntry {
  at: number;
  from: string;
  message: string;
  decisions: string[];
  outcome?: string;
}

/** A turn's notes (`ActorContext.note`): none, one as itself, or several. */
export type Notes = string | string[] | null;

/** How many log entries an actor keeps in memory; the journal keeps every change. */
export const LOG_LIMIT = 16;

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

/** The parts of one log line, in `MessageLog`'s flat array, in this order. */
const FIELDS = 6;
/** The slots of a full log. */
const RING = LOG_LIMIT * FIELDS;
/** Room for this many lines first: an order logs two to be placed. */
const FIRST_LINES = 2;

/**
 * An actor's latest `LOG_LIMIT` turns, as operators read them (`actor.inspect`). A turn is logged
 * on the hottest path of the runtime, and most logs are never read: so a turn only stores the
 * references it already has (the message's kind, sender and type, the behaviour's notes, the
 * outcome) in one flat array used as a ring, and a `LogEntry` is formatted only when the log is
 * read. A log line per turn as an object of freshly formatted strings was a measurable share of a
 * turn's garbage.
 */
export class MessageLog {
  /**
   * FIELDS slots per line: at, kind, who, what, decisions (one note, several, or none), outcome.
   * Grown by doubling up to RING (an array grown by `push` keeps half as much again to spare,
   * and every order in memory keeps its log).
   */
  private slots: unknown[] = [];
  private lines = 0;
  /** Where the oldest line starts once the ring is full (0 before). */
  private oldest = 0;

  get length(): number {
    return this.lines;
  }

  /**
   * Logs a turn of `env` (or what became of it: a turn that threw); `decisions` are the turn's
   * notes (none: null), as `TurnContext` collects them.
   */
  add(at: number, env: Envelope, decisions: Notes, outcome: string | undefined): void {
    this.put(at, env.t, whoOf(env), whatOf(env), decisions, outcome);
  }

  /** Continues `earlier`'s lines (a restarted actor keeps its predecessor's log). */
  append(earlier: MessageLog): void {
    const s = earlier.slots;
    for (let n = 0; n < earlier.length; n++) {
      const i = (earlier.oldest + n * FIELDS) % RING;
      this.put(s[i] as number, s[i + 1] as Envelope['t'], s[i + 2] as string, s[i + 3] as string, s[i + 4] as Notes, s[i + 5] as string | undefined);
    }
  }

  /**
   * The lines as one JSON text, for an actor leaving memory in compact form (`set-aside.ts`): a
   * string is one object to the garbage collector, where the lines are a dozen (their notes are
   * strings built in pieces), and every order set aside keeps its log.
   */
  pack(): string {
    const s = this.slots;
    const flat: unknown[] = [];
    for (let n = 0; n < this.lines; n++) {
      const i = (this.oldest + n * FIELDS) % RING;
      for (let f = 0; f < FIELDS; f++) flat.push(s[i + f]);
    }
    return JSON.stringify(flat);
  }

  /** Continues the lines of a `pack()`ed log (an actor back from its compact form). */
  unpack(packed: string): void {
    const flat = JSON.parse(packed) as unknown[];
    for (let i = 0; i + FIELDS <= flat.length; i += FIELDS) {
      // JSON has no undefined: a line without an outcome comes back with null.
      this.put(flat[i] as number, flat[i + 1] as Envelope['t'], flat[i + 2] as string, flat[i + 3] as string, flat[i + 4] as Notes, (flat[i + 5] ?? undefined) as string | undefined);
    }
  }

  /** The lines, oldest first, as fresh objects (the caller may keep or change them). */
  entries(): LogEntry[] {
    const s = this.slots;
    const out: LogEntry[] = [];
    for (let n = 0; n < this.length; n++) {
      const i = (this.oldest + n * FIELDS) % RING;
      const t = s[i + 1] as Envelope['t'];
      const decisions = s[i + 4] as Notes;
      const entry: LogEntry = {
        at: s[i] as number,
        from: formatFrom(t, s[i + 2] as string),
        message: formatMessage(t, s[i + 3] as string),
        decisions: decisions === null ? [] : typeof decisions === 'string' ? [decisions] : decisions.slice(),
        // Present even when undefined (a turn that replied nothing), as a line always had it.
        outcome: s[i + 5] as string | undefined,
      };
      out.push(entry);
    }
    return out;
  }

  private put(at: number, t: Envelope['t'], who: string, what: string, decisions: Notes, outcome: string | undefined): void {
    let i: number;
    if (this.lines < LOG_LIMIT) {
      i = this.lines++ * FIELDS;
      if (i === this.slots.length) this.grow();
    } else {
      i = this.oldest;
      this.oldest = (i + FIELDS) % RING;
    }
    const s = this.slots;
    s[i] = at;
    s[i + 1] = t;
    s[i + 2] = who;
    s[i + 3] = what;
    s[i + 4] = decisions;
    s[i + 5] = outcome;
  }

  private grow(): void {
    const old = this.slots;
    const bigger = new Array<unknown>(old.length === 0 ? FIRST_LINES * FIELDS : Math.min(old.length * 2, RING));
    for (let i = 0; i < old.length; i++) bigger[i] = old[i];
    this.slots = bigger;
  }
}
