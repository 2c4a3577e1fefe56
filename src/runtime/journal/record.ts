import type { ActorRequest } from '../../protocol/messages.js';
import { FRAME_HEADER, frameOf } from './frame.js';
import { JsonBytes } from './json-bytes.js';

/**
 * One journal record: everything one actor turn changed, written as a unit.
 * `r`: the behaviour's own records, in order; `o`: requests added to the outbox;
 * `a`: outbox ids answered; `t`: timers armed (due time) or cancelled (null).
 */
export interface JournalRecord {
  k: string;
  r?: unknown[];
  o?: OutboxEntry[];
  a?: number[];
  t?: Record<string, number | null>;
}

export interface OutboxEntry {
  id: number;
  to: string;
  request: ActorRequest;
  /** Sent with `{ journal: false }`: never written, so its answer needs no acknowledgement record. */
  volatile?: true;
}

export interface ReplayStats {
  records: number;
  bytes: number;
  /** Bytes cut off a torn tail, if any. */
  truncated: number;
}

/** Encoding never nests (a turn's record is encoded before the next turn runs): one writer per thread. */
const json = new JsonBytes();

/**
 * A record as one frame (see frame.ts): its payload is the record as UTF-8 JSON, the very bytes
 * of `JSON.stringify(rec)` (see json-bytes.ts), so every build reads every other's journals.
 */
export function encodeRecord(rec: JournalRecord): Buffer {
  return frameOf(json.write(rec, FRAME_HEADER, 'r'), json.end);
}

/**
 * The JSON of `rec.r` (the behaviour's records) of the record `frame` was just encoded from by
 * `encodeRecord`, as text: the very bytes of the frame, so no second serialisation. Null if the
 * record had no `r`. Only right after that `encodeRecord` and before the next one.
 */
export function recordsJsonOf(frame: Buffer): string | null {
  return json.markStart < 0 ? null : frame.toString('utf8', json.markStart, json.markEnd);
}

/** The record in a frame's payload (the payload of a frame `readFrame` found good). */
export function decodeRecord(payload: Buffer): JournalRecord {
  return JSON.parse(payload.toString('utf8')) as JournalRecord;
}
