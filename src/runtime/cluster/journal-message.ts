import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { readFrame } from '../journal/frame.js';
import { decodeRecord, type JournalRecord } from '../journal/record.js';
import { JournalStreamError, RecordTooLargeError } from './errors.js';

/**
 * One message of a journal stream: either a fence (a node took the journal: body `{epoch, node}`)
 * or a batch (one group commit's records, or one part of it: the record frames of frame.ts, back
 * to back). Each message carries its writer's epoch and name in headers, and a message id
 * (`Nats-Msg-Id`) that is unique per epoch, writer, batch and part: it is the record id a
 * retried append is recognised by, and what replay deduplicates on.
 */
export type MessageKind = 'fence' | 'batch';

export const H_KIND = 'Ordo-Kind';
export const H_EPOCH = 'Ordo-Epoch';
export const H_WRITER = 'Ordo-Writer';
export const H_MSG_ID = 'Nats-Msg-Id';

/** Bytes kept free in each message for its headers (the server counts them in max_payload). */
export const HEADER_ROOM = 4096;

export interface MessageMeta {
  kind: MessageKind;
  epoch: number;
  writer: string;
  id: string;
}

export interface Fence {
  epoch: number;
  node: string;
}

/** The writer comes last: node names may hold any character. */
export function batchMessageId(epoch: number, batch: number, part: number, writer: string): string {
  return `${epoch}:${batch}:${part}:${writer}`;
}

export function fenceMessageId(epoch: number, writer: string): string {
  return `${epoch}:fence:${writer}`;
}

export function messageHeaders(kind: MessageKind, epoch: number, writer: string): MsgHdrs {
  const h = headers();
  h.set(H_KIND, kind);
  h.set(H_EPOCH, String(epoch));
  h.set(H_WRITER, writer);
  return h;
}

/** What a stored message's headers say; `null` for a message ordo did not write. */
export function readMeta(h: MsgHdrs | undefined): MessageMeta | null {
  if (!h) return null;
  const kind = h.get(H_KIND);
  const epoch = Number(h.get(H_EPOCH));
  if ((kind !== 'fence' && kind !== 'batch') || !Number.isSafeInteger(epoch) || epoch < 1) return null;
  return { kind, epoch, writer: h.get(H_WRITER), id: h.get(H_MSG_ID) };
}

/**
 * A batch's frames in groups of at most `limit` bytes each, in order (one message per group).
 * A frame is never split: one larger than `limit` cannot be appended at all.
 */
export function splitFrames(frames: readonly Buffer[], limit: number, stream: string): Buffer[][] {
  const groups: Buffer[][] = [];
  let group: Buffer[] = [];
  let bytes = 0;
  for (const f of frames) {
    if (f.length > limit) throw new RecordTooLargeError(stream, f.length, limit);
    if (bytes + f.length > limit && group.length) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(f);
    bytes += f.length;
  }
  if (group.length) groups.push(group);
  return groups;
}

/** The records of a batch message's body. A message is stored whole, so a bad frame is corruption, never a torn tail. */
export function decodeBatch(body: Uint8Array, stream: string, seq: number): JournalRecord[] {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const out: JournalRecord[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const f = readFrame(buf, offset);
    if (f.kind !== 'frame') {
      throw new JournalStreamError(`message ${seq} of ${stream} holds a ${f.kind === 'bad' ? `bad frame (${f.why})` : 'cut frame'} at byte ${offset}`);
    }
    out.push(decodeRecord(f.payload));
    offset = f.next;
  }
  return out;
}

export function decodeFence(body: Uint8Array): Fence {
  return JSON.parse(Buffer.from(body).toString('utf8')) as Fence;
}
