/**
 * Bytes kept off the JavaScript heap, many pieces to a slab: each piece is a view into its slab.
 * What the young-generation collector copies of a piece that survives is its view (a few dozen
 * bytes), not its bytes, and a full collection marks one object per piece. A slab is freed by the
 * collector once no view into it is left, so pieces should die at about the same time: a shard's
 * set-aside actors, which its next snapshot round writes and lets go of together (set-aside.ts).
 */
export class ByteArena {
  private slab: Buffer = Buffer.alloc(0);
  private used = 0;

  constructor(private readonly slabBytes = 64 * 1024) {}

  /**
   * A view of exactly `n` bytes for the caller to fill (their content is undefined until it
   * does). A piece larger than a quarter of a slab gets a buffer of its own, so that a large
   * piece never leaves most of a slab unused.
   */
  alloc(n: number): Buffer {
    if (n > this.slabBytes >>> 2) return Buffer.allocUnsafeSlow(n);
    if (this.used + n > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(this.slabBytes);
      this.used = 0;
    }
    const piece = this.slab.subarray(this.used, this.used + n);
    this.used += n;
    return piece;
  }
}
