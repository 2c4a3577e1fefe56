/**
 * The `ordo` command (bin/ordo.mjs): `ordo serve`, `ordo inspect`, `ordo tail`, `ordo compact`, `ordo cluster status`.
 * Every command's help is in cli/usage.ts; the exit codes (0 ok, 1 failure, 2 usage) are the
 * contract scripts rely on, so nothing escapes as a stack trace.
 */
import { readFileSync } from 'node:fs';
import { cluster } from './cli/cluster-status.js';
import { compact } from './cli/compact.js';
import { inspect } from './cli/inspect.js';
import { serve } from './cli/serve.js';
import { tail } from './cli/tail.js';
import { EXIT, Failure, HELP, UsageError, usageFromParseError, wantsHelp } from './cli/usage.js';

type Command = (args: string[], env: NodeJS.ProcessEnv) => Promise<number>;
const COMMANDS: Record<string, Command> = { serve, inspect, tail, compact, cluster };

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs one command line; resolves with the exit code. Never throws. */
export async function cli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    console.error(HELP.main); // no command is a usage error; the help goes where errors go
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h') {
    console.log(HELP.main);
    return EXIT.ok;
  }
  if (name === 'help') {
    const topic = args[0] ?? 'main';
    if (!HELP[topic]) return fail(EXIT.usage, `unknown command ${topic} (see ordo --help)`);
    console.log(HELP[topic]);
    return EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    console.log(version());
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) return fail(EXIT.usage, `${name.startsWith('-') ? 'unknown option' : 'unknown command'} ${name} (see ordo --help)`);
  if (wantsHelp(args)) {
    console.log(HELP[name]);
    return EXIT.ok;
  }
  try {
    return await command(args, env);
  } catch (err) {
    const usage = err instanceof UsageError ? err : usageFromParseError(name, err);
    if (usage) return fail(EXIT.usage, usage.message);
    if (err instanceof Failure) return fail(EXIT.failure, err.message);
    // Anything else is unexpected, but a script still gets one line and exit 1.
    return fail(EXIT.failure, err instanceof Error ? err.message.split('\n')[0]! : String(err));
  }
}

function fail(code: number, message: string): number {
  console.error(`ordo: ${message}`);
  return code;
}
