import { crc32 } from 'node:zlib';

/**
 * On-disk framing of journal records: `[u32 length][u32 crc32][payload]`, little-endian, where
 * the payload is one record as UTF-8 JSON. The checksum tells a torn or corrupt frame from a good one.
 */
export const FRAME_HEADER = 8;
/** No record comes close; a larger length field is garbage from a torn write. */
export const MAX_FRAME = 64 * 1024 * 1024;

/**
 * The frame of a payload given as a string: the format's plain statement. Records are framed by
 * `frameOf` from bytes already written (`encodeRecord`); this is what those frames must equal.
 */
export function encodeFrame(payload: string): Buffer {
  // Encoded straight into the frame: one buffer per record, not a body and then its copy.
  const length = Buffer.byteLength(payload, 'utf8');
  const frame = Buffer.allocUnsafe(FRAME_HEADER + length);
  frame.write(payload, FRAME_HEADER, 'utf8');
  frame.writeUInt32LE(length, 0);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER)), 4);
  return frame;
}

/**
 * The frame of a payload the caller wrote into `scratch` from `FRAME_HEADER` up to `end` (see
 * `encodeRecord`): copied out into a buffer of its own, with its header.
 */
export function frameOf(scratch: Buffer, end: number): Buffer {
  // One view of the payload, for both the checksum and the copy (Buffer#copy makes one of its own).
  const payload = scratch.subarray(FRAME_HEADER, end);
  const frame = Buffer.allocUnsafe(end);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(crc32(payload), 4);
  frame.set(payload, FRAME_HEADER);
  return frame;
}

export type FrameCheck =
  | { kind: 'frame'; payload: Buffer; next: number }
  | { kind: 'incomplete' }
  | { kind: 'bad'; why: string };

/** Checks the frame at `offset` of `buf` (which holds the file's bytes from some point on). */
export function readFrame(buf: Buffer, offset: number): FrameCheck {
  if (buf.length - offset < FRAME_HEADER) return { kind: 'incomplete' };
  const len = buf.readUInt32LE(offset);
  // A zero length is never written (records are never empty); zeros are what a torn write leaves.
  if (len === 0 || len > MAX_FRAME) return { kind: 'bad', why: `implausible length ${len}` };
  if (buf.length - offset - FRAME_HEADER < len) return { kind: 'incomplete' };
  const payload = buf.subarray(offset + FRAME_HEADER, offset + FRAME_HEADER + len);
  if (crc32(payload) !== buf.readUInt32LE(offset + 4)) return { kind: 'bad', why: 'checksum mismatch' };
  return { kind: 'frame', payload, next: offset + FRAME_HEADER + len };
}
