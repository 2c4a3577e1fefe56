import { test } from 'uvu';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Runs a benchmark tool with `args`; resolves with its exit code and output (it must not start measuring). */
function run(tool: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = fileURLToPath(new URL(`../bench/${tool}.js`, import.meta.url));
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const BAD: [tool: string, args: string[], says: RegExp][] = [
  ['runtime', ['--nope'], /^bench:runtime: Unknown option '--nope'/],
  ['runtime', ['--skus', 'abc'], /^bench:runtime: --skus takes a whole number ≥ 1, got "abc"/],
  ['runtime', ['--placements', '0'], /^bench:runtime: --placements takes a whole number ≥ 1, got "0"/],
  ['journal', ['--gap-ms', '2,x'], /^bench:journal: --gap-ms takes milliseconds ≥ 0, comma-separated; got "2,x"/],
  ['journal', ['--writers', '1.5'], /^bench:journal: --writers takes a whole number ≥ 1, got "1.5"/],
  ['merge', ['--runs', '1'], /^bench:merge: --runs takes a whole number ≥ \d+, got "1"/],
  ['recovery', ['--orders', 'many'], /^bench:recovery: --orders takes a whole number ≥ 1, got "many"/],
  ['recovery', ['--what'], /^bench:recovery: Unknown option '--what'/],
];

for (const [tool, args, says] of BAD) {
  test(`bench:${tool} ${args.join(' ')}: one line and the usage, exit code 2, nothing run`, async () => {
    const { code, stdout, stderr } = await run(tool, args);
    assert.equal(code, 2);
    assert.match(stderr, says);
    assert.match(stderr, new RegExp(`\\nusage: node dist/bench/${tool}\\.js `));
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    assert.equal(stdout, '', 'nothing measured');
  });
}

test('bench tools answer --help with their usage and exit 0', async () => {
  for (const tool of ['runtime', 'journal', 'merge', 'recovery']) {
    const { code, stdout } = await run(tool, ['--help']);
    assert.equal(code, 0, tool);
    assert.match(stdout, new RegExp(`^usage: node dist/bench/${tool}\\.js `), tool);
  }
});

test.run();
