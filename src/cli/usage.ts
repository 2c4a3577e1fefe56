/**
 * What `ordo` promises a shell script: exit 0 when the command did its work, 1 when it failed
 * (one line on stderr says why), 2 when the command line itself is wrong (unknown command or
 * option, missing argument). Commands throw these errors; `cli()` turns them into the exit code.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** The command line is wrong: exit 2. */
export class UsageError extends Error {}

/** The command could not do its work: exit 1. */
export class Failure extends Error {}

const EXIT_CODES = `exit codes:
  0  done
  1  failed (one line on stderr says why)
  2  usage error (unknown command or option, missing argument)`;

const CONNECTION = `  --url URL        the server's WebSocket endpoint (default: the one a server running on
                   --data wrote to <data>/server.json, else ws://127.0.0.1:8080/ws)
  --token TOKEN    a bearer token (default: ORDO_TOKEN, else an admin token of ORDO_TOKENS
                   or of <data>/tokens.json)
  --data DIR       data directory (default: ORDO_DATA_DIR or ./data)`;

export const HELP: Record<string, string> = {
  main: `usage: ordo <command> [options]

commands:
  serve                     run the server (what \`npm start\` runs)
  inspect order <orderId>   an order actor's state, timers, outbox and message log
  inspect sku <sku>         a SKU actor's stock, holds and message log
  tail order <orderId>      follow an order's changes live, one line each, until Ctrl-C
  compact                   snapshot every shard of a stopped server's data directory
  cluster status            a cluster's members and who owns which journal (NATS mode)
  help [command]            this text, or a command's

Run \`ordo <command> --help\` for a command's options. \`ordo --version\` prints the version.

${EXIT_CODES}`,
  serve: `usage: ordo serve [options]

Runs the server: the WebSocket gateway on ws://HOST:PORT/ws, /healthz and /metrics on the same port.

options (each also an environment variable; the flag wins):
  --host HOST       ORDO_HOST, default 127.0.0.1
  --port PORT       ORDO_PORT, default 8080 (0: any free port)
  --data DIR        ORDO_DATA_DIR, default ./data
  --workers N       ORDO_WORKERS, host threads
  --shards N        ORDO_SHARDS, shards of a new data directory, default 8
  --journals N      ORDO_JOURNALS, journals the shards share, default: workers
  --simulate        also run a demo load against the server
  --nats URLS       ORDO_NATS_URL (or ORDO_NATS), comma-separated NATS servers with JetStream:
                    run as a node of a cluster (journals, snapshots and ownership in JetStream)
  --cluster NAME    ORDO_CLUSTER, the cluster to join, default ordo
  --node-id ID      ORDO_NODE_ID, unique in the cluster, default <host name>:<port>
  -h, --help        this text
Tokens come from ORDO_TOKENS, else <data>/tokens.json (generated at first start). Other
settings are environment variables only; the README lists them.

${EXIT_CODES}`,
  inspect: `usage: ordo inspect order <orderId> [options]
       ordo inspect sku <sku> [options]

Prints an actor's state, timers, outbox and message log as JSON. On a stopped data directory it
reads the files; when a server holds the directory (or --url is given) it asks that server over
the WebSocket with the admin-only command actor.inspect.

options:
${CONNECTION}
  -h, --help       this text

${EXIT_CODES} (also 1 when there is no such actor)`,
  tail: `usage: ordo tail order <orderId> [options]

Follows an order live (order.subscribe): prints its current status, then one line per durable
change, "<time> <orderId> <status> by <who>", until Ctrl-C (exit 0). --json prints the whole
order instead, one JSON object a line.

options:
${CONNECTION}
  --json           one JSON order per line
  -h, --help       this text

${EXIT_CODES} (1 also when the server closes the connection)`,
  compact: `usage: ordo compact [--data DIR]

Snapshots every shard now and removes the journal segments the snapshots cover. The server
must be stopped (the data directory's lock says so).

options:
  --data DIR       data directory (default: ORDO_DATA_DIR or ./data)
  -h, --help       this text

${EXIT_CODES}`,
  cluster: `usage: ordo cluster status [--nats URLS] [--cluster NAME] [--json]

Reads a cluster's state from NATS (joins nothing): its layout, its members (live leases: node,
gateway URL, start, last renewal), and per journal the owner as it recorded itself (node, epoch,
since, the sequence of its fence; "(gone)" when that node has no lease), the stream's last
sequence and its length. The owner of a journal is the newest fence in its stream; the records
say who wrote one last and can lag a takeover by a moment.

options:
  --nats URLS      NATS servers (default: ORDO_NATS_URL, ORDO_NATS, else nats://127.0.0.1:4222)
  --cluster NAME   the cluster (default: ORDO_CLUSTER, else ordo)
  --json           one JSON document
  -h, --help       this text

${EXIT_CODES}`,
};

/** Whether the arguments ask for help (before a `--`, after which everything is positional). */
export function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/**
 * node:util parseArgs reports an unknown option with a paragraph of advice; a script wants the
 * option's name in one line.
 */
export function usageFromParseError(command: string, err: unknown): UsageError | null {
  const code = (err as { code?: string } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return null;
  const message = (err as Error).message;
  const name = /'(-[^']*)'/.exec(message)?.[1];
  const what =
    code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && name
      ? `unknown option ${name}`
      : code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && name
        ? `option ${name.split(' ')[0]} needs a value`
        : code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
          ? `unexpected argument ${/'([^']*)'/.exec(message)?.[1] ?? ''}`.trim()
          : message.split('\n')[0]!;
  return new UsageError(`${what} (see ordo ${command} --help)`);
}
