/**
 * The command line of a benchmark tool (`bench:runtime`, `bench:journal`, `bench:merge`,
 * `bench:recovery`): its options parsed strictly, with `--help`. A mistyped option or a value
 * that is not a count is answered with one line and the tool's usage, exit code 2, before anything
 * starts, never with a stack trace or a run on `NaN`.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

/** A tool's options, or null when it printed its usage (`--help`) and should do nothing else. */
export function toolArgs(tool: string, usage: string, options: Options, argv = process.argv.slice(2)): Values | null {
  try {
    const { values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
    if (values.help) {
      console.log(usage);
      return null;
    }
    return values as Values;
  } catch (err) {
    return usageError(tool, usage, err);
  }
}

/** `--name`'s value as a whole number ≥ `min` (thrown as a usage error otherwise). */
export function count(values: Values, name: string, min = 1): number {
  const raw = values[name];
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < min) throw new ToolUsageError(`--${name} takes a whole number ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** A bad value on the command line: reported by `withUsage` as one line, exit code 2. */
export class ToolUsageError extends Error {}

/** Runs `read` over the parsed values; a `ToolUsageError` prints one line and the usage and exits with 2. */
export function withUsage<T>(tool: string, usage: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof ToolUsageError)) throw err;
    return usageError(tool, usage, err);
  }
}

function usageError(tool: string, usage: string, err: unknown): never {
  console.error(`${tool}: ${err instanceof Error ? err.message : String(err)}\n${usage}`);
  process.exit(2);
}
