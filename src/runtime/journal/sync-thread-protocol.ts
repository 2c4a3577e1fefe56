/**
 * The words the journal's writer and its sync thread share (an Int32Array over a
 * SharedArrayBuffer): the writer stores the fd, then a new `requested` number and wakes the
 * sync thread; the sync thread syncs, stores the error (0, or the errno as a positive number),
 * then `done` = that number, and posts one message to wake the writer's event loop.
 */
export const CTRL = {
  requested: 0,
  fd: 1,
  done: 2,
  error: 3,
  size: 4,
} as const;

/** `requested` set to this asks the sync thread to end. */
export const STOP = -1;
