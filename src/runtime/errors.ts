/**
 * The runtime's failure kinds, one class each, so that a caller (a test, the CLI, a supervisor)
 * tells them apart by type rather than by message. Each names the path it concerns.
 */

/** Base of the runtime's own errors: `name` is the class's name in stack traces and logs. */
export class OrdoError extends Error {
  override get name(): string {
    return this.constructor.name;
  }
}

/**
 * The journal file was deleted (or its directory removed) under a running server. Writing on
 * would acknowledge changes into a file no restart will ever read: `ok` would be a lie.
 */
export class JournalUnlinkedError extends OrdoError {
  constructor(readonly file: string) {
    super(`journal ${file} is no longer on disk (deleted under the running server); refusing to acknowledge anything more`);
  }
}

/** A bad frame that is not a torn tail: recovery stops rather than rebuild a partial state. */
export class JournalCorruptError extends OrdoError {
  constructor(readonly file: string, readonly offset: number, why: string) {
    super(`journal ${file} is corrupt at offset ${offset} (${why}); refusing to recover a partial state`);
  }
}

/** A shard asked a journal for something only its members may do (a wiring mistake, not bad data). */
export class JournalMembershipError extends OrdoError {}

/** The journal holds records of a shard that does not write there: the layout was changed by hand. */
export class JournalLayoutError extends OrdoError {}

/** Another live server holds the data directory, or its lock cannot be taken. */
export class DataDirLockedError extends OrdoError {}

/** The data directory's `meta.json` is absent where it must exist, unreadable, or not a description. */
export class DataDirMetaError extends OrdoError {}

/** A shard's snapshot manifest cannot be read or holds no valid commit point. */
export class ManifestError extends OrdoError {}

/** A snapshot file could not be written durably; the previous snapshot stays the committed one. */
export class SnapshotWriteError extends OrdoError {
  constructor(readonly file: string, cause: unknown) {
    super(`cannot write snapshot file ${file}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * A rejection handler for I/O where a missing file is an answer, not a failure: `value` on
 * ENOENT, the error itself for anything else.
 *
 * @example
 *   const size = await stat(path).then((s) => s.size, ifAbsent(0));
 */
export function ifAbsent<T>(value: T): (err: NodeJS.ErrnoException) => T {
  return ignoring<T>(value, 'ENOENT');
}

/** A rejection handler that answers `value` for exactly these errno codes and rethrows anything else. */
export function ignoring<T>(value: T, ...codes: string[]): (err: NodeJS.ErrnoException) => T {
  return (err) => {
    if (codes.includes(err.code ?? '')) return value;
    throw err;
  };
}
