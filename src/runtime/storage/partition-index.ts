/**
 * Where each actor's entry sits in its partition's data file, so a reactivation reads a few
 * hundred bytes instead of parsing the whole partition: keys sorted, with `start * 2^24 + length`
 * packed in one float each (16 bytes per actor; built at start, the key strings are the
 * directory's own; rebuilt by a snapshot, they are the partition file's copies).
 */
export interface PartitionIndex {
  keys: string[];
  at: Float64Array;
}

/** A byte range in a partition's data file: [start, length]. */
export type ByteRange = [number, number];

const LENGTH_BITS = 2 ** 24;

export function indexOf(all: [string, ByteRange][]): PartitionIndex {
  // An entry of 16 MiB or more does not fit the packing: it is read by parsing its partition.
  const entries = all.filter(([, [, length]]) => length < LENGTH_BITS);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const at = new Float64Array(entries.length);
  entries.forEach(([, [start, length]], i) => (at[i] = start * LENGTH_BITS + length));
  return { keys: entries.map(([k]) => k), at };
}

export function lookup(index: PartitionIndex, key: string): ByteRange | undefined {
  let lo = 0;
  let hi = index.keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const k = index.keys[mid]!;
    if (k === key) {
      const v = index.at[mid]!;
      return [Math.floor(v / LENGTH_BITS), v % LENGTH_BITS];
    }
    if (k < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}
