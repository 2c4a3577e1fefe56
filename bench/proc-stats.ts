/**
 * CPU time and resident memory of another process, read from Linux's /proc: the bench's measure
 * of what a server (all its threads, whatever language it is written in) spent in a window.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** USER_HZ: the unit of /proc/PID/stat's times; 100 on every Linux the bench runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU seconds `pid` has used so far, all its threads, plus those of its children it has waited
 * for (Redis forks one to rewrite its append-only file: that work is Redis's too). Null where
 * /proc cannot be read. Synchronous, so that a window's edges are read exactly where they are.
 */
export function processCpuSeconds(pid: number): number | null {
  try {
    // Fields 14-17 of /proc/PID/stat (utime, stime, cutime, cstime) in clock ticks; the name
    // field may contain spaces, so count from the closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Resident set size of `pid` in bytes, or null where unavailable. */
export async function processRssBytes(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}
