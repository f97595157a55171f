// `tagship versions check|set` through the real executable, on copies of the example monorepo.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { tools } from '../activities/lib/tools';
import { exampleCopier, PYPROJECT_FILES } from './support/example-copies';

const BIN = fileURLToPath(new URL('../bin/tagship.js', import.meta.url));
const FILES = PYPROJECT_FILES;

let root: string;
const { copy, snapshot } = exampleCopier(() => root);

// The working directory is the temp root so that nothing falls back to this repository's files.
const cli = (args: string[]) => execa('node', [BIN, ...args], { reject: false, cwd: root, stdin: 'ignore' });

const member = (name: string, deps: string[]) =>
  [
    '[project]',
    `name = "${name}"`,
    'version = "1.0.0"',
    'requires-python = ">=3.9"',
    `dependencies = [${deps.map((d) => `"${d}"`).join(', ')}]`,
    '',
    '[build-system]',
    'requires = ["hatchling"]',
    'build-backend = "hatchling.build"',
    ...(deps.length > 0 ? ['', '[tool.uv.sources]', ...deps.map((d) => `${d} = { workspace = true }`)] : []),
    '',
  ].join('\n');

/** A uv workspace of two members, the second depending on the first, locked by `uv lock`. */
async function uvWorkspace(): Promise<string> {
  const dir = await mkdtemp(join(root, 'uv-workspace-'));
  await writeFile(join(dir, 'pyproject.toml'), '[tool.uv.workspace]\nmembers = ["packages/*"]\n');
  await writeFile(
    join(dir, 'tagship.toml'),
    '[[packages]]\nname = "ws-core"\npath = "packages/core"\n\n[[packages]]\nname = "ws-plugin"\npath = "packages/plugin"\n\n[[variants]]\nname = "all"\npackages = ["ws-core", "ws-plugin"]\n',
  );
  for (const [name, deps] of [
    ['core', []],
    ['plugin', ['ws-core']],
  ] as const) {
    await mkdir(join(dir, 'packages', name, 'src', `ws_${name}`), { recursive: true });
    await writeFile(join(dir, 'packages', name, 'src', `ws_${name}`, '__init__.py'), '');
    await writeFile(join(dir, 'packages', name, 'pyproject.toml'), member(`ws-${name}`, [...deps]));
  }
  await uvIn(dir, ['lock']);
  return dir;
}

const uvIn = (dir: string, args: string[], reject = true) => execa(tools.uv(), args, { cwd: dir, stdin: 'ignore', reject, all: true, env: { NO_COLOR: '1' } });

/** The version uv.lock records for a package. */
async function lockedVersion(dir: string, name: string): Promise<string | undefined> {
  const lock = await readFile(join(dir, 'uv.lock'), 'utf8');
  return new RegExp(`\\[\\[package\\]\\]\\nname = "${name}"\\nversion = "([^"]+)"`).exec(lock)?.[1];
}

/** What every command says when the configuration file it looked for is not there. */
const missingConfig = (file: string) =>
  `error: ${file}: configuration file not found. tagship releases only what a tagship.toml describes: ` +
  'create one at the repository root (start from examples/open-ticket-ai/tagship.toml in the tagship repository), or name it with --config <file>';

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tagship-versions-cli-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('tagship versions', () => {
  it("check exits 1 with the seed's message, set fixes it, check then exits 0", async () => {
    const dir = await copy();
    const bad = await cli(['versions', 'check', '--repo', dir, '--tag', 'v1.0.18']);
    assert.equal(bad.exitCode, 1);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr, "ERROR: Tag version (1.0.18) doesn't match package version (1.0.17)");

    const set = await cli(['versions', 'set', '1.0.18', '--repo', dir]);
    assert.equal(set.exitCode, 0, set.stderr);
    assert.equal(
      set.stdout,
      [
        'pyproject.toml: 1.0.17 -> 1.0.18',
        'packages/otai_hf_local/pyproject.toml: 1.0.17 -> 1.0.18',
        'packages/otai_otobo_znuny/pyproject.toml: 1.0.17 -> 1.0.18',
      ].join('\n'),
    );

    const good = await cli(['versions', 'check', '--repo', dir, '--tag', 'v1.0.18']);
    assert.equal(good.exitCode, 0, good.stderr);
    assert.equal(good.stderr, '');
    assert.match(good.stdout, /^OK: 3 packages at version 1\.0\.18/);
    assert.match(good.stdout, /\n {2}otai-otobo-znuny: 1\.0\.18 \(packages\/otai_otobo_znuny\/pyproject\.toml\)$/);
  });

  it("check lists the packages under the seed's message when versions differ", async () => {
    const dir = await copy();
    const file = join(dir, FILES[2]!);
    await writeFile(file, (await readFile(file, 'utf8')).replace('version = "1.0.17"', 'version = "1.0.18"'));
    const res = await cli(['versions', 'check', '--repo', dir]);
    assert.equal(res.exitCode, 1);
    const lines = res.stderr.split('\n');
    assert.equal(lines[0], 'ERROR: All package versions must be identical!');
    assert.ok(lines.includes('  otai-otobo-znuny: 1.0.18 (packages/otai_otobo_znuny/pyproject.toml)'));
  });

  it('a repository without tagship.toml is refused with the usage exit code, naming the file looked for', async () => {
    const dir = await copy();
    await rm(join(dir, 'tagship.toml'));
    // The example's pyproject.toml files match the seed's defaults: a fallback to them would pass.
    const res = await cli(['versions', 'check', '--repo', dir, '--tag', 'v1.0.17']);
    assert.equal(res.exitCode, 2);
    assert.equal(res.stdout, '');
    assert.equal(res.stderr, missingConfig(join(dir, 'tagship.toml')));
  });

  it('set rejects a bad version with exit 1 and changes no file', async () => {
    const dir = await copy();
    const beforeFiles = await snapshot(dir);
    const res = await cli(['versions', 'set', '1.0.18-beta', '--repo', dir]);
    assert.equal(res.exitCode, 1);
    assert.equal(res.stdout, '');
    assert.equal(res.stderr, 'invalid version "1.0.18-beta": expected X.Y.Z (PEP 440, e.g. 1.0.18)');
    assert.deepEqual(await snapshot(dir), beforeFiles);
  });

  it('check and set name a missing pyproject.toml and its package', async () => {
    const dir = await copy();
    await rm(join(dir, FILES[1]!));
    for (const args of [['check'], ['set', '1.0.18']]) {
      const res = await cli(['versions', ...args, '--repo', dir]);
      assert.equal(res.exitCode, 1, args.join(' '));
      assert.match(res.stderr, /^ERROR: packages\/otai_hf_local\/pyproject\.toml not found \(package otai-hf-local/);
    }
    assert.match(await readFile(join(dir, FILES[0]!), 'utf8'), /^version = "1\.0\.17"$/m);
  });

  it('reports a broken tagship.toml naming the file and key', async () => {
    const dir = await copy();
    await writeFile(join(dir, 'tagship.toml'), '[images]\nplatforms = ["linux"]\n');
    const res = await cli(['versions', 'check', '--repo', dir]);
    assert.equal(res.exitCode, 1);
    assert.match(res.stderr, /^tagship: .*tagship\.toml: invalid configuration:\n {2}images\.platforms\[0\]: must be a platform/);
  });

  it('--config names the configuration explicitly and must exist', async () => {
    const dir = await copy();
    const cfg = join(dir, '..', `only-core-${dir.split('-').at(-1)}.toml`);
    await writeFile(cfg, '[[packages]]\nname = "open-ticket-ai"\npath = "."\n\n[[variants]]\nname = "core"\npackages = ["open-ticket-ai"]\n');
    const res = await cli(['versions', 'check', '--repo', dir, '--config', cfg]);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stdout, /^OK: 1 packages at version 1\.0\.17/);
    const missing = await cli(['versions', 'check', '--repo', dir, '--config', join(root, 'nope.toml')]);
    assert.equal(missing.exitCode, 2);
    assert.equal(missing.stderr, missingConfig(join(root, 'nope.toml')));
  });

  it('set re-locks the uv workspace, so `uv lock --check` passes with the new versions', async () => {
    const dir = await uvWorkspace();
    assert.equal(await lockedVersion(dir, 'ws-core'), '1.0.0');
    const res = await cli(['versions', 'set', '1.2.0', '--repo', dir]);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.equal(res.stderr, '');
    assert.equal(
      res.stdout,
      ['packages/core/pyproject.toml: 1.0.0 -> 1.2.0', 'packages/plugin/pyproject.toml: 1.0.0 -> 1.2.0', `uv.lock: re-locked (${join(dir, 'uv.lock')})`].join(
        '\n',
      ),
    );
    const check = await uvIn(dir, ['lock', '--check'], false);
    assert.equal(check.exitCode, 0, check.all);
    assert.equal(await lockedVersion(dir, 'ws-core'), '1.2.0');
    assert.equal(await lockedVersion(dir, 'ws-plugin'), '1.2.0');
  });

  it('set --no-lock leaves uv.lock alone and says it may be stale and how to refresh it', async () => {
    const dir = await uvWorkspace();
    const lockBefore = await readFile(join(dir, 'uv.lock'), 'utf8');
    const res = await cli(['versions', 'set', '1.2.0', '--repo', dir, '--no-lock']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.equal(
      res.stdout.split('\n').at(-1),
      `uv.lock: not re-locked (--no-lock), may be stale (${join(dir, 'uv.lock')}); refresh it with: uv lock --directory ${dir}`,
    );
    assert.equal(await readFile(join(dir, 'uv.lock'), 'utf8'), lockBefore);
    const check = await uvIn(dir, ['lock', '--check'], false);
    assert.notEqual(check.exitCode, 0, 'the lock is stale without the refresh');
    // The printed command is the one that repairs it.
    await uvIn(root, ['lock', '--directory', dir]);
    assert.equal((await uvIn(dir, ['lock', '--check'], false)).exitCode, 0);
  });

  it("set exits 1 naming the stale lock, uv's error and the command to refresh it when uv lock fails", async () => {
    const dir = await uvWorkspace();
    // A workspace source for a package that is no member: uv refuses it without asking any index.
    const plugin = join(dir, 'packages/plugin/pyproject.toml');
    await writeFile(
      plugin,
      (await readFile(plugin, 'utf8')).replace('dependencies = ["ws-core"]', 'dependencies = ["ws-core", "ws-missing"]') +
        'ws-missing = { workspace = true }\n',
    );
    const res = await cli(['versions', 'set', '1.2.0', '--repo', dir]);
    assert.equal(res.exitCode, 1);
    assert.match(res.stdout, /^packages\/core\/pyproject\.toml: 1\.0\.0 -> 1\.2\.0\npackages\/plugin\/pyproject\.toml: 1\.0\.0 -> 1\.2\.0$/);
    const lines = res.stderr.trimEnd().split('\n');
    assert.equal(lines[0], `ERROR: ${join(dir, 'uv.lock')} is now stale: \`uv lock\` in ${dir} failed (exit code 1):`);
    assert.match(res.stderr, /\n {4}.*ws-missing.*is not a workspace member/);
    assert.equal(lines.at(-1), `The pyproject.toml files keep version 1.2.0; fix what uv reports, then refresh the lock with: uv lock --directory ${dir}`);
    assert.match(await readFile(join(dir, 'packages/core/pyproject.toml'), 'utf8'), /^version = "1\.2\.0"$/m);
    assert.equal(await lockedVersion(dir, 'ws-core'), '1.0.0');
  });

  it('a repository without uv.lock gets no lock message, with or without --no-lock', async () => {
    for (const extra of [[], ['--no-lock']]) {
      const dir = await copy();
      const res = await cli(['versions', 'set', '1.0.18', '--repo', dir, ...extra]);
      assert.equal(res.exitCode, 0, res.stderr);
      assert.equal(res.stderr, '');
      assert.doesNotMatch(res.stdout, /uv\.lock/);
    }
  });

  it('check lists a package whose version comes from the git tag, and set leaves it alone', async () => {
    const dir = await copy();
    const file = join(dir, FILES[1]!);
    const scm =
      (await readFile(file, 'utf8'))
        .replace('version = "1.0.17"', 'dynamic = ["version"]')
        .replace('requires = ["hatchling>=1.26"]', 'requires = ["hatchling>=1.26", "hatch-vcs"]') + '\n[tool.hatch.version]\nsource = "vcs"\n';
    await writeFile(file, scm);
    const check = await cli(['versions', 'check', '--repo', dir, '--tag', 'v1.0.17']);
    assert.equal(check.exitCode, 0, check.stderr);
    assert.match(check.stdout, /^OK: 2 packages at version 1\.0\.17, matching tag v1\.0\.17; 1 with a dynamic version/);
    assert.match(check.stdout, /otai-hf-local: version from the tag \(hatch-vcs\) \(packages\/otai_hf_local\/pyproject\.toml\)/);
    const set = await cli(['versions', 'set', '1.0.18', '--repo', dir]);
    assert.equal(set.exitCode, 0, set.stderr);
    assert.match(set.stdout, /packages\/otai_hf_local\/pyproject\.toml: .*left alone/);
    assert.equal(await readFile(file, 'utf8'), scm);
  });

  it('release start wants exactly one of a tag and --ref, and --ref without --dry-run (exit 2)', async () => {
    for (const args of [
      ['release', 'start'],
      ['release', 'start', 'v1.0.0', '--ref', 'main'],
      ['release', 'start', '--ref', 'main', '--dry-run'],
      ['release', 'start', 'v1.0.0', '--version', '1.0.0'],
    ]) {
      const res = await cli(args);
      assert.equal(res.exitCode, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /^error: /);
    }
  });
});

describe('commands without a configuration file', () => {
  // Each used to release, schedule or operate Open Ticket AI (the seed's defaults) from any directory.
  // The configuration is read before Temporal is reached, so no server is needed to see the refusal.
  for (const args of [
    ['release', 'start', 'v1.0.18'],
    ['release', 'status', 'v1.0.18'],
    ['release', 'list'],
    ['schedule', 'apply'],
    ['server', '--port', '1'],
  ]) {
    it(`tagship ${args.join(' ')} stops with the usage exit code, naming ./tagship.toml`, async () => {
      const res = await cli(args);
      assert.equal(res.exitCode, 2, res.stderr);
      assert.equal(res.stdout, '');
      assert.equal(res.stderr, missingConfig(join(root, 'tagship.toml')));
    });
  }

  it('names the file given with --config', async () => {
    const res = await cli(['release', 'start', 'v1.0.18', '--config', 'elsewhere.toml']);
    assert.equal(res.exitCode, 2);
    assert.equal(res.stderr, missingConfig(join(root, 'elsewhere.toml')));
  });
});
