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
