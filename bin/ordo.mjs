#!/usr/bin/env node
// The `ordo` command (see src/cli.ts). Runs the compiled JavaScript in dist/ (`npm run build`
// first; the npm scripts do it for you).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/src/cli.js', import.meta.url));
if (!existsSync(compiled)) {
  console.error('ordo: not built yet; run `npm run build` first');
  process.exit(1);
}
const { cli } = await import(compiled);
// Exit explicitly: a stopped server's worker threads must not keep the process alive.
process.exit(await cli(process.argv.slice(2)));
