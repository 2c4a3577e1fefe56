/**
 * Writes a value as JSON straight into UTF-8 bytes: the same bytes as
 * `Buffer.from(JSON.stringify(value))`, without the string. Every actor turn that changes
 * something is journaled as JSON, and `JSON.stringify` builds its result from a chain of growing
 * string parts that writing it into a frame then flattens once more: about 1.5 KiB of garbage per
 * placement, for records of a few hundred bytes.
 *
 * Plain data (the records behaviours write) is written here: plain objects, arrays, strings,
 * numbers, booleans, null. Anything else (an object with `toJSON`, a class instance, a Map, an
 * unusual string) is handed to `JSON.stringify` itself, so the bytes are always exactly its.
 */
export class JsonBytes {
  private buf: Buffer;
  private pos = 0;
  /** See `write`'s `mark`: where the marked value's bytes start and end (-1: not written). */
  markStart = -1;
  markEnd = -1;

  constructor(initialSize = 4096) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /**
   * Writes `value` as JSON after `offset` bytes left for the caller (a frame's header), and
   * returns the buffer holding them: valid up to `end`, and only until the next `write`.
   * `mark`: a property of `value` (a plain object) whose value's byte range to remember in
   * `markStart`/`markEnd` (-1 when it was not written), so that the caller can take that part's
   * JSON as text without writing it a second time.
   */
  write(value: unknown, offset: number, mark?: string): Buffer {
    this.pos = offset;
    this.room(0);
    this.markStart = this.markEnd = -1;
    if (mark !== undefined && typeof value === 'object' && value !== null && isPlainObject(value)) this.object(value, mark);
    else if (!this.value(value)) throw new TypeError('a journal record must be JSON');
    return this.buf;
  }

  /** Where the JSON written by the latest `write` ends. */
  get end(): number {
    return this.pos;
  }

  /** Writes `v`; returns false for what JSON has no form of (undefined, a function, a symbol). */
  private value(v: unknown): boolean {
    switch (typeof v) {
      case 'string':
        this.string(v);
        return true;
      case 'number':
        this.number(v);
        return true;
      case 'boolean':
        this.ascii(v ? 'true' : 'false');
        return true;
      case 'object':
        if (v === null) this.ascii('null');
        else if (Array.isArray(v) && Object.getPrototypeOf(v) === Array.prototype) this.array(v);
        else if (isPlainObject(v)) this.object(v);
        else return this.asStringified(v);
        return true;
      case 'bigint':
        // JSON.stringify throws for it, and so does this.
        return this.asStringified(v);
      default:
        return false;
    }
  }

  private array(a: unknown[]): void {
    this.byte(0x5b); // [
    for (let i = 0; i < a.length; i++) {
      if (i > 0) this.byte(0x2c); // ,
      if (!this.value(a[i])) this.ascii('null');
    }
    this.byte(0x5d); // ]
  }

  private object(o: Record<string, unknown>, mark?: string): void {
    this.byte(0x7b); // {
    let first = true;
    // A plain object's for-in order is JSON.stringify's (integer keys first, then insertion order).
    for (const key in o) {
      const v = o[key];
      const t = typeof v;
      if (v === undefined || t === 'function' || t === 'symbol') continue;
      if (!first) this.byte(0x2c); // ,
      first = false;
      this.string(key);
      this.byte(0x3a); // :
      if (key === mark) {
        this.markStart = this.pos;
        this.value(v);
        this.markEnd = this.pos;
      } else this.value(v);
    }
    this.byte(0x7d); // }
  }

  private string(s: string): void {
    const n = s.length;
    this.room(n + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 0x22; // "
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      // Printable ASCII other than " and \ is written as is; anything else, JSON.stringify escapes or encodes.
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
        this.quoted(JSON.stringify(s));
        return;
      }
      buf[p++] = c;
    }
    buf[p++] = 0x22;
    this.pos = p;
  }

  private number(v: number): void {
    // Safe integers (counts, ids, times) digit by digit; everything else as JSON writes it.
    if (!Number.isSafeInteger(v)) {
      this.ascii(Number.isFinite(v) ? String(v) : 'null');
      return;
    }
    this.room(17);
    // -0 is not below 0: JSON writes it as 0.
    if (v < 0) {
      this.buf[this.pos++] = 0x2d; // -
      v = -v;
    }
    // In int32 pieces of at most nine digits: `%` on a larger number is a floating-point remainder.
    if (v < 1e9) return this.digits(v, 1);
    let high = Math.floor(v / 1e9);
    let low = v - high * 1e9;
    // v / 1e9 may round up to the next integer just below a multiple of 1e9.
    if (low < 0) {
      high--;
      low += 1e9;
    }
    this.digits(high, 1);
    this.digits(low, 9);
  }

  /** Writes `n` (0 ≤ n < 1e9) in decimal, with leading zeros up to `width` digits. */
  private digits(n: number, width: number): void {
    let len = 1;
    for (let x = n; x >= 10; x = (x / 10) | 0) len++;
    if (len < width) len = width;
    let p = this.pos + len;
    this.pos = p;
    for (let i = 0; i < len; i++) {
      const q = (n / 10) | 0;
      this.buf[--p] = 0x30 + n - q * 10;
      n = q;
    }
  }

  /** What is not plain data, exactly as JSON.stringify writes it (false: it writes nothing). */
  private asStringified(v: unknown): boolean {
    const json = JSON.stringify(v) as string | undefined;
    if (json === undefined) return false;
    this.quoted(json);
    return true;
  }

  /** Writes `json` (already JSON, maybe beyond ASCII) in UTF-8. */
  private quoted(json: string): void {
    this.room(json.length * 3);
    this.pos += this.buf.write(json, this.pos, 'utf8');
  }

  /** Writes a string known to be ASCII. */
  private ascii(s: string): void {
    this.room(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
  }

  private byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  /** Makes room for `n` more bytes. */
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
}

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(v);
  return (proto === Object.prototype || proto === null) && !('toJSON' in v);
}
