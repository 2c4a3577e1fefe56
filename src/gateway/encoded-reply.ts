import { recordFieldJson } from '../protocol/journaled-text.js';
import type { Reply } from '../protocol/messages.js';
import { ASSERTS, invariant } from '../runtime/kernel/dev-asserts.js';

/** Fields of actors' answers to each other (`Reply`) that are not part of any client's reply. */
const INTERNAL_REPLY_FIELDS: ReadonlySet<string> = new Set(['ok', 'orderIds', 'reserved', 'available']);

/**
 * A reply frame's text after its `{"re":<id>,`: `"ok":…` and the result keys a client may see,
 * then the closing brace. The frame is `{"re":<id>,` + this, so a reply is serialised once, where
 * it is made (a shard host), and the gateway only prefixes the id.
 */
export function clientReplyTail(reply: Reply): string {
  if (!reply.ok) return `"ok":false,"error":${JSON.stringify(reply.error)}}`;
  let tail = '"ok":true';
  for (const key in reply) {
    if (INTERNAL_REPLY_FIELDS.has(key)) continue;
    if (key === 'orderText') continue;
    const field = reply[key as keyof typeof reply];
    // An order from the turn that journaled it: its JSON is already in the journal's frame.
    const journaled = key === 'order' ? recordFieldJson(reply.orderText, 'order') : undefined;
    if (ASSERTS && journaled !== undefined) invariant(journaled === JSON.stringify(field), "a reply's order serialises as its turn's record did");
    const value = journaled ?? JSON.stringify(field);
    // An undefined field is left out, as `JSON.stringify` of the whole frame would.
    if (value !== undefined) tail += `,${JSON.stringify(key)}:${value}`;
  }
  return `${tail}}`;
}

/** Whether a reply carries fields that only the gateway itself reads (the client's view has less). */
export function hasInternalFields(reply: Reply): boolean {
  if (!reply.ok) return false;
  for (const key in reply) if (key !== 'ok' && INTERNAL_REPLY_FIELDS.has(key)) return true;
  return false;
}

/** What counts a reply under in the metrics: `ok`, or its error code. */
export function outcomeOf(reply: Reply): string {
  return reply.ok ? 'ok' : reply.error.code;
}

/**
 * One command's reply as the gateway receives it: as text ready for the wire (`frame`) and,
 * parsed only when someone asks (`reply`), as an object. Either side may be what it was made
 * from: a shard host sends the client's view as text, a cluster node hands the object.
 */
export class EncodedReply {
  private constructor(
    /** `ok` or the error code. */
    readonly outcome: string,
    private tail: string | null,
    private object: Reply | null,
  ) {}

  /** A reply that has only the client's view: `tail` as `clientReplyTail` makes it. */
  static ofClientTail(outcome: string, tail: string): EncodedReply {
    return new EncodedReply(outcome, tail, null);
  }

  static of(reply: Reply): EncodedReply {
    return new EncodedReply(outcomeOf(reply), null, reply);
  }

  /** The reply as an object (the client's view of it, when it came as text). */
  get reply(): Reply {
    this.object ??= JSON.parse(`{${this.tail!}`) as Reply;
    return this.object;
  }

  /** The reply frame for the command `id`, `re` first. */
  frame(id: string): string {
    this.tail ??= clientReplyTail(this.object!);
    return `{"re":${JSON.stringify(id)},${this.tail}`;
  }
}

/** Someone waiting for one command's reply. */
export interface ReplyReceiver {
  receive(reply: EncodedReply): void;
}
