import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../logger.js';
import type { DeadLetter } from '../kernel/shard.js';
import { shardDir } from '../storage/data-dir.js';

/**
 * Where a host sets aside a message that made a behaviour throw three times in a row: logged, and
 * appended as one JSON line to the shard's `dead-letters.jsonl` for an operator to read. Losing
 * the file line (a full disk) loses nothing else: the sender was answered and the actor went on.
 */
export function recordDeadLetter(dataDir: string, shard: number, letter: DeadLetter, log: Logger): void {
  log.error({ actor: letter.key, from: letter.from, error: letter.error }, 'message dead-lettered after three failures');
  const path = join(shardDir(dataDir, shard), 'dead-letters.jsonl');
  appendFile(path, JSON.stringify(letter) + '\n').catch((err: unknown) => log.error({ err, path }, 'could not write a dead letter'));
}
