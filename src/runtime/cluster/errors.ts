import { OrdoError } from '../errors.js';

/**
 * Another node appended a fence to this journal's stream: it owns the journal now. Everything
 * this node appends from here on is refused (it would land after the fence, or not at all), and
 * nothing it holds in memory for the journal's shards may be reported as durable any more.
 */
export class JournalLostError extends OrdoError {
  constructor(readonly stream: string, readonly seq: number, readonly byWriter: string | null) {
    super(`journal stream ${stream} was taken over${byWriter ? ` by ${byWriter}` : ''} (sequence ${seq} is not this node's); refusing further appends`);
  }
}

/** A single record is larger than one NATS message may be: it can never be appended. */
export class RecordTooLargeError extends OrdoError {
  constructor(readonly stream: string, readonly bytes: number, readonly limit: number) {
    super(`a record of ${bytes} bytes does not fit in one message on ${stream} (max payload ${limit} bytes)`);
  }
}

/** An append got neither an acknowledgement nor a definite refusal for too long. */
export class JournalAppendTimeoutError extends OrdoError {}

/** The stream's content is not what this node's own appends left (a bug, or the stream edited by hand). */
export class JournalStreamError extends OrdoError {}

/** Messages a replay needed were purged meanwhile (a concurrent trim by a fenced node): recover again. */
export class JournalRecordsGoneError extends OrdoError {}
