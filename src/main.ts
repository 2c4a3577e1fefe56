/**
 * The server entry point, kept for `node dist/src/main.js [options]`: the same code as
 * `ordo serve [options]` (src/cli/serve.ts).
 */
import { cli } from './cli.js';

// Exit explicitly: worker threads or sockets must not keep a failed or stopped server alive.
process.exit(await cli(['serve', ...process.argv.slice(2)]));
