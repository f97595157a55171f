// What a user types: `tagship dev` brings up the embedded stack and a worker, and
// `tagship release start … --wait` releases through it; exit codes are the outcome (4: a step waits
// for an operator, which a CI job must not sit out). Ctrl-C is tried on a dev of its own, so no
// test depends on running before it.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { createExampleRepo, git, tagVersion } from '../src/dev/demo/example-repo';
import { freePort, httpOk } from '../src/dev/stack/service';
import { eventually } from './support/eventually';

const BIN = fileURLToPath(new URL('../bin/tagship.js', import.meta.url));

interface Dev {
  readonly process: ResultPromise;
  readonly ports: { temporal: number; ui: number; index: number; registry: number };
  readonly dataDir: string;
  /** Everything it printed so far. */
  output(): string;
}

/** `tagship dev` on free ports, once it says the stack is up; fails with its output if it exits or stays silent. */
async function startDev(dataDir: string): Promise<Dev> {
  const ports = { temporal: await freePort(), ui: await freePort(), index: await freePort(), registry: await freePort() };
  const dev = execa(
    'node',
    [
      BIN,
      'dev',
      '--data-dir',
      dataDir,
      '--port',
      String(ports.temporal),
      '--ui-port',
      String(ports.ui),
      '--index-port',
      String(ports.index),
      '--registry-port',
      String(ports.registry),
    ],
    { reject: false, all: true, buffer: false },
  );
  let output = '';
  dev.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const up = await eventually(
    'tagship dev to say "stack is up"',
    () => ({ output, exited: dev.exitCode !== null }),
    (s) => s.output.includes('stack is up') || s.exited,
    { timeoutMs: 120_000, intervalMs: 200, show: (s) => `${s.exited ? `exited with ${dev.exitCode}; ` : ''}output:\n${s.output}` },
  );
  if (!up.output.includes('stack is up')) {
    await dev;
    assert.fail(`tagship dev exited (${dev.exitCode}) before the stack was up:\n${output}`);
  }
  return { process: dev, ports, dataDir, output: () => output };
}

describe('tagship dev + tagship release start', { timeout: 10 * 60_000 }, () => {
  let root: string;
  let dev: Dev;
  let configFile: string;
  /** The lines of configFile, for tests that write a variant of it. */
  let configLines: string[];
  let repoDir: string;
  const devs: Dev[] = [];

  const tagship = (args: string[]) =>
    execa('node', [BIN, ...args], {
      reject: false,
      env: {
        TAGSHIP_TEMPORAL_ADDRESS: `127.0.0.1:${dev.ports.temporal}`,
        TAGSHIP_UI_URL: `http://127.0.0.1:${dev.ports.ui}`,
        TAGSHIP_CODEC_KEYS_FILE: join(dev.dataDir, 'codec-keys'),
      },
    });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-cli-'));
    dev = await startDev(join(root, 'dev'));
    devs.push(dev);
    const { ports } = dev;
    repoDir = (await createExampleRepo(join(root, 'repo'), '1.0.18')).dir;
    configFile = join(root, 'tagship.toml');
    // What dev tells the user to put in their tagship.toml: the stack's two-platform Python base.
    const baseImage = /^ {2}base image +(\S+)/m.exec(dev.output())?.[1];
    assert.ok(baseImage, `dev prints its base image:\n${dev.output()}`);
    configLines = [
      '[repository]',
      'owner = "Softoft-Orga"',
      'name = "open-ticket-ai"',
      `url = "${repoDir}"`,
      '[index]',
      'auth = "token"',
      `upload_url = "http://127.0.0.1:${ports.index}/"`,
      `simple_url = "http://127.0.0.1:${ports.index}/simple/"`,
      '[images]',
      `repository = "127.0.0.1:${ports.registry}/softoft-orga/open-ticket-ai"`,
      'builder = "buildah"',
      'insecure = true',
      '[images.build_args]',
      `BASE_IMAGE = "${baseImage}"`,
      '',
    ];
    await writeFile(configFile, configLines.join('\n'));
  });

  after(async () => {
    for (const d of devs) if (d.process.exitCode === null) d.process.kill('SIGKILL');
    await Promise.allSettled(devs.map((d) => d.process));
    await rm(root, { recursive: true, force: true });
  });

  it('dev prints where everything is', () => {
    const { ports } = dev;
    assert.match(dev.output(), new RegExp(`Temporal +127\\.0\\.0\\.1:${ports.temporal} +UI http://127\\.0\\.0\\.1:${ports.ui}`));
    assert.match(dev.output(), new RegExp(`registry +127\\.0\\.0\\.1:${ports.registry}`));
    assert.match(dev.output(), new RegExp(`base image +127\\.0\\.0\\.1:${ports.registry}/tagship/python:3\\.11-bookworm +\\(linux/amd64, linux/arm64\\)`));
  });

  it('release start --wait prints the workflow id and UI link, follows the steps and exits 0', async () => {
    const { ports } = dev;
    const res = await tagship(['release', 'start', 'v1.0.18', '--config', configFile, '--wait']);
    assert.equal(res.exitCode, 0, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /^started: release\/Softoft-Orga\/open-ticket-ai\/v1\.0\.18$/m);
    assert.match(res.stdout, new RegExp(`http://127\\.0\\.0\\.1:${ports.ui}/namespaces/default/workflows/`));
    for (const step of ['validate', 'build:otai-hf-local', 'publish:open-ticket-ai', 'visible:otai-otobo-znuny', 'image:all']) {
      assert.ok(res.stdout.includes(step), `step ${step} shown`);
    }
    assert.ok(await httpOk(`http://127.0.0.1:${ports.registry}/v2/softoft-orga/open-ticket-ai/manifests/1.0.18-all`));
  });

  it("a tag that names another version exits 1 with the seed's message", async () => {
    await git(repoDir, ['tag', 'v1.0.19', 'v1.0.18']);
    const res = await tagship(['release', 'start', 'v1.0.19', '--config', configFile, '--wait']);
    assert.equal(res.exitCode, 1);
    assert.match(res.stderr, /ERROR: Tag version \(1\.0\.19\) doesn't match package version \(1\.0\.18\)/);
    // Failure messages are encrypted in history; the follower decodes them for the step list.
    assert.match(res.stdout, /✗ validate: ERROR: Tag version \(1\.0\.19\)/);
  });

  it('release start --wait exits 4 as soon as a step waits for an operator, naming the step, its error and what to do', async () => {
    // The index is down and every step has one attempt: the first step that needs it waits for an operator.
    const downIndex = `http://127.0.0.1:${await freePort()}`;
    const stuckConfig = join(root, 'stuck.toml');
    await writeFile(
      stuckConfig,
      [
        ...configLines.map((line) =>
          line.startsWith('upload_url') ? `upload_url = "${downIndex}/"` : line.startsWith('simple_url') ? `simple_url = "${downIndex}/simple/"` : line,
        ),
        '[retries]',
        'validate = 1',
        'build = 1',
        'publish = 1',
        'visible = 1',
        'image = 1',
        '',
      ].join('\n'),
    );
    const { tag } = await tagVersion(repoDir, '1.0.20');
    const res = await tagship(['release', 'start', tag, '--config', stuckConfig, '--wait']);
    assert.equal(res.exitCode, 4, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /^started: release\/Softoft-Orga\/open-ticket-ai\/v1\.0\.20$/m);
    assert.match(res.stderr, /^release v1\.0\.20 waits for an operator:$/m);
    const step = /^release v1\.0\.20 waits for an operator:\n {2}(\S+): /m.exec(res.stderr)?.[1];
    assert.ok(step, `the waiting step is named:\n${res.stderr}`);
    assert.ok(res.stderr.includes(downIndex.slice('http://'.length)), `its error names the index that is down:\n${res.stderr}`);
    assert.ok(res.stderr.includes(`tagship release retry v1.0.20 ${step} --config ${stuckConfig}`), res.stderr);
    assert.ok(res.stderr.includes(`tagship release skip v1.0.20 ${step} --config ${stuckConfig}`), res.stderr);
    assert.match(res.stderr, /tagship release abort v1\.0\.20 --reason "\.\.\."/);
    assert.match(res.stderr, new RegExp(`Temporal UI: http://127\\.0\\.0\\.1:${dev.ports.ui}/namespaces/default/workflows/release%2F`));
    // It does wait, and the operator's answer works on it.
    const status = await tagship(['release', 'status', tag, '--config', stuckConfig]);
    assert.match(status.stdout, new RegExp(`${step.replace(/[.:]/g, '\\$&')} +waiting-for-operator`));
    const abort = await tagship(['release', 'abort', tag, '--config', stuckConfig, '--reason', 'test over']);
    assert.equal(abort.exitCode, 0, abort.stderr);
  });

  it('a tag that is not v*.*.* is refused before anything starts', async () => {
    const res = await tagship(['release', 'start', '1.0.18', '--config', configFile]);
    assert.equal(res.exitCode, 1);
    assert.match(res.stderr, /1\.0\.18.*v\*\.\*\.\*/);
    assert.doesNotMatch(res.stdout, /started/);
  });

  it('Ctrl-C stops the worker and every server of the stack', async () => {
    // A dev of its own: stopping the one the other tests use would leave them without a stack.
    const own = await startDev(join(root, 'dev-ctrl-c'));
    devs.push(own);
    own.process.kill('SIGINT');
    const result = await own.process;
    assert.equal(result.exitCode, 0, own.output());
    assert.equal(await httpOk(`http://127.0.0.1:${own.ports.index}/health`), false);
    assert.equal(await httpOk(`http://127.0.0.1:${own.ports.registry}/v2/`), false);
  });
});
