import { test } from 'uvu';
import assert from 'node:assert/strict';
import { type CliRun, runOrdo } from './helpers/cli.js';

/** What a script relies on when something is wrong: one line on stderr, no stack trace. */
function assertOneLine(r: CliRun, pattern: RegExp): void {
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^ordo: /);
  assert.match(lines[0]!, pattern);
  assert.ok(!/\n\s+at /.test(r.stderr) && !r.stderr.includes('.js:'), `no stack trace:\n${r.stderr}`);
}

test('ordo --help lists every command and the exit codes, exit 0', async () => {
  for (const flag of ['--help', '-h', 'help']) {
    const r = await runOrdo([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^usage: ordo <command>/);
    for (const cmd of ['serve', 'inspect order', 'inspect sku', 'tail order', 'compact']) assert.ok(r.stdout.includes(`  ${cmd}`), `${flag} lists ${cmd}`);
    assert.match(r.stdout, /0\s+done/);
    assert.match(r.stdout, /1\s+failed/);
    assert.match(r.stdout, /2\s+usage error/);
  }
});

test('ordo <command> --help prints that command\'s usage and runs nothing, exit 0', async () => {
  for (const cmd of ['serve', 'inspect', 'tail', 'compact']) {
    // `serve --help` must not start a server: with port 1 (privileged) starting would fail.
    const r = await runOrdo([cmd, '--help', '--port', '1']);
    assert.equal(r.code, 0, `${cmd} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: ordo ${cmd}`));
    assert.match(r.stdout, /exit codes:/);
    assert.equal((await runOrdo(['help', cmd])).stdout, r.stdout, `ordo help ${cmd} is the same text`);
  }
  const serve = await runOrdo(['serve', '-h']);
  for (const opt of ['--host', '--port', '--data', '--workers', '--shards', '--journals', '--simulate']) assert.ok(serve.stdout.includes(opt), `serve --help names ${opt}`);
});

test('no command: the usage on stderr, exit 2', async () => {
  const r = await runOrdo([]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^usage: ordo/);
});

test('an unknown command or option is a usage error: exit 2, one clear line, no stack trace', async () => {
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command frobnicate \(see ordo --help\)/],
    [['help', 'frobnicate'], /unknown command frobnicate/],
    [['--frob'], /unknown option --frob/],
    [['serve', '--frob'], /unknown option --frob \(see ordo serve --help\)/],
    [['inspect', 'order', 'o1', '--bogus'], /unknown option --bogus \(see ordo inspect --help\)/],
    [['tail', 'order', 'o1', '--nope=1'], /unknown option --nope/],
    [['compact', '--data'], /option --data needs a value/],
    [['inspect'], /inspect takes `order <orderId>` or `sku <sku>`/],
    [['inspect', 'warehouse', 'x'], /inspect takes/],
    [['inspect', 'order'], /inspect order needs an orderId/],
    [['inspect', 'sku', 'a', 'b'], /unexpected argument b/],
    [['tail', 'sku', 'a'], /tail takes `order <orderId>`/],
    [['tail', 'order'], /tail order needs an orderId/],
    [['compact', 'extra'], /unexpected argument extra/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runOrdo(args);
    assert.equal(r.code, 2, `ordo ${args.join(' ')} exits 2: ${r.stderr}`);
    assertOneLine(r, pattern);
  }
});

test('a command that cannot do its work: exit 1, one line', async () => {
  const missing = await runOrdo(['inspect', 'order', 'o1', '--url', 'ws://127.0.0.1:1/ws', '--token', 't']);
  assert.equal(missing.code, 1);
  assertOneLine(missing, /cannot connect to ws:\/\/127\.0\.0\.1:1\/ws/);
  const badValue = await runOrdo(['serve', '--port', 'eighty']);
  assert.equal(badValue.code, 1);
  assertOneLine(badValue, /port must be an integer/);
});

test('ordo --version prints the package version', async () => {
  const r = await runOrdo(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
});

test.run();
