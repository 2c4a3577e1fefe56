/**
 * Where each actor's data line sits in one run's data file, with no key strings: per entry a
 * 32-bit hash of the key, its line's start and its length (16 bytes), sorted by hash. A lookup
 * yields the ranges whose hash matches; the line read there names its key, so a collision is
 * recognised and skipped (see `readDataAt`). Only entries that are the newest of their key when
 * the index is built are in it (recovery leaves out those newer runs supersede).
 */
export interface RunIndex {
  hashes: Uint32Array;
  starts: Float64Array;
  lengths: Uint32Array;
}

/** FNV-1a over UTF-16 code units (a different hash from shard and partition placement). */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Positions up to this many are packed with their hash into one double (see `byHash`). */
const PACKED_POSITIONS = 2 ** 21;

/**
 * The positions of `h` ordered by hash, equal hashes in position order (what a stable sort
 * gives). Up to 2^21 entries, each hash and its position are packed into one double (exact: a
 * hash is below 2^32, so the product stays below 2^53) and the engine sorts the numbers without
 * calling back into JavaScript: a comparator sort was a tenth of a million-order restart.
 * `packedUpTo` lowers the limit (tests compare both paths).
 */
export function byHash(h: readonly number[], packedUpTo = PACKED_POSITIONS): Uint32Array {
  const n = h.length;
  const order = new Uint32Array(n);
  if (n > Math.min(packedUpTo, PACKED_POSITIONS)) {
    for (let i = 0; i < n; i++) order[i] = i;
    return order.sort((a, b) => h[a]! - h[b]! || a - b);
  }
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = h[i]! * PACKED_POSITIONS + i;
  packed.sort();
  for (let i = 0; i < n; i++) order[i] = packed[i]! % PACKED_POSITIONS;
  return order;
}

/** Collects entries (in any order), then sorts them into an index. */
export class RunIndexBuilder {
  private hashes: number[] = [];
  private starts: number[] = [];
  private lengths: number[] = [];

  add(key: string, start: number, length: number): void {
    this.hashes.push(keyHash(key));
    this.starts.push(start);
    this.lengths.push(length);
  }

  get size(): number {
    return this.hashes.length;
  }

  build(): RunIndex {
    const n = this.hashes.length;
    const h = this.hashes;
    const order = byHash(h);
    const index: RunIndex = { hashes: new Uint32Array(n), starts: new Float64Array(n), lengths: new Uint32Array(n) };
    for (let i = 0; i < n; i++) {
      const j = order[i]!;
      index.hashes[i] = h[j]!;
      index.starts[i] = this.starts[j]!;
      index.lengths[i] = this.lengths[j]!;
    }
    this.hashes = [];
    this.starts = [];
    this.lengths = [];
    return index;
  }
}

/** The [start, length] ranges of the entries whose key hashes like `key`'s (usually one or none). */
export function candidates(index: RunIndex, key: string): [number, number][] {
  const h = keyHash(key);
  const { hashes } = index;
  let lo = 0;
  let hi = hashes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hashes[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  const out: [number, number][] = [];
  for (let i = lo; i < hashes.length && hashes[i] === h; i++) out.push([index.starts[i]!, index.lengths[i]!]);
  return out;
}

/** Bytes the index takes in memory. */
export function indexBytes(index: RunIndex): number {
  return index.hashes.byteLength + index.starts.byteLength + index.lengths.byteLength;
}
