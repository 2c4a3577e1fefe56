import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DataDirLockedError, ifAbsent, ignoring } from '../errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One server per data directory: two writers on the same journals would corrupt them. The lock
 * is a file holding the owner's pid, created exclusively; a lock left by a killed process (its
 * pid is gone) is taken over. Returns the function that releases it.
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'LOCK');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return async () => {
        await unlink(path).catch(ifAbsent(undefined));
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Gone meanwhile, or not a file: no owner to ask; its removal below says what is wrong.
      const owner = await readFile(path, 'utf8').catch(ignoring('', 'ENOENT', 'EISDIR'));
      const pid = Number(owner.trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new DataDirLockedError(`data directory ${dir} is in use by another ordo server (pid ${pid}); stop it first`);
      }
      // The lock's owner is gone: take it over. If it cannot be removed, that is the real cause.
      try {
        await unlink(path);
      } catch (unlinkErr) {
        const e = unlinkErr as NodeJS.ErrnoException;
        if (e.code !== 'ENOENT') throw new DataDirLockedError(`cannot remove the stale lock ${path} (its process is gone): ${e.message}`);
      }
    }
  }
  // Another process took the lock between our removal of a stale one and our retry.
  throw new DataDirLockedError(`data directory ${dir} is being locked by another process at the same time (${path})`);
}
