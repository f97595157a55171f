// What a user types: `tagship dev` brings up the embedded stack and a worker, and
// `tagship release start … --wait` releases through it; exit codes are the outcome.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { createExampleRepo, git } from '../src/dev/demo/example-repo';
import { freePort, httpOk } from '../src/dev/stack/service';

const BIN = fileURLToPath(new URL('../bin/tagship.js', import.meta.url));

describe('tagship dev + tagship release start', { timeout: 10 * 60_000 }, () => {
  let root: string;
  let dev: ResultPromise;
  let devOutput = '';
  let ports: { temporal: number; ui: number; index: number; registry: number };
  let configFile: string;
  let repoDir: string;

  const tagship = (args: string[]) =>
    execa('node', [BIN, ...args], {
      reject: false,
      env: {
        TAGSHIP_TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
        TAGSHIP_UI_URL: `http://127.0.0.1:${ports.ui}`,
        TAGSHIP_CODEC_KEYS_FILE: join(root, 'dev', 'codec-keys'),
      },
    });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-cli-'));
    ports = { temporal: await freePort(), ui: await freePort(), index: await freePort(), registry: await freePort() };
    dev = execa('node', [BIN, 'dev', '--data-dir', join(root, 'dev'), '--port', String(ports.temporal), '--ui-port', String(ports.ui),
      '--index-port', String(ports.index), '--registry-port', String(ports.registry)], { reject: false, all: true, buffer: false });
    dev.all?.on('data', (chunk: Buffer) => (devOutput += chunk.toString()));
    const deadline = Date.now() + 120_000;
    while (!devOutput.includes('stack is up')) {
      if (Date.now() > deadline || dev.exitCode !== null) assert.fail(`tagship dev did not come up:\n${devOutput}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    repoDir = (await createExampleRepo(join(root, 'repo'), '1.0.18')).dir;
    configFile = join(root, 'tagship.toml');
    // What dev tells the user to put in their tagship.toml: the stack's two-platform Python base.
    const baseImage = /^ {2}base image +(\S+)/m.exec(devOutput)?.[1];
    assert.ok(baseImage, `dev prints its base image:\n${devOutput}`);
    await writeFile(configFile, [
      '[repository]', 'owner = "Softoft-Orga"', 'name = "open-ticket-ai"', `url = "${repoDir}"`,
      '[index]', 'auth = "token"', `upload_url = "http://127.0.0.1:${ports.index}/"`, `simple_url = "http://127.0.0.1:${ports.index}/simple/"`,
      '[images]', `repository = "127.0.0.1:${ports.registry}/softoft-orga/open-ticket-ai"`, 'builder = "buildah"', 'insecure = true',
      '[images.build_args]', `BASE_IMAGE = "${baseImage}"`, '',
    ].join('\n'));
  });

  after(async () => {
    if (dev && dev.exitCode === null) dev.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  });

  it('dev prints where everything is', () => {
    assert.match(devOutput, new RegExp(`Temporal +127\\.0\\.0\\.1:${ports.temporal} +UI http://127\\.0\\.0\\.1:${ports.ui}`));
    assert.match(devOutput, new RegExp(`registry +127\\.0\\.0\\.1:${ports.registry}`));
    assert.match(devOutput, new RegExp(`base image +127\\.0\\.0\\.1:${ports.registry}/tagship/python:3\\.11-bookworm +\\(linux/amd64, linux/arm64\\)`));
  });

  it('release start --wait prints the workflow id and UI link, follows the steps and exits 0', async () => {
    const res = await tagship(['release', 'start', 'v1.0.18', '--config', configFile, '--wait']);
    assert.equal(res.exitCode, 0, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /^started: release\/Softoft-Orga\/open-ticket-ai\/v1\.0\.18$/m);
    assert.match(res.stdout, new RegExp(`http://127\\.0\\.0\\.1:${ports.ui}/namespaces/default/workflows/`));
    for (const step of ['validate', 'build:otai-hf-local', 'publish:open-ticket-ai', 'visible:otai-otobo-znuny', 'image:all']) {
      assert.ok(res.stdout.includes(step), `step ${step} shown`);
    }
    assert.ok(await httpOk(`http://127.0.0.1:${ports.registry}/v2/softoft-orga/open-ticket-ai/manifests/1.0.18-all`));
  });

  it('a tag that names another version exits 1 with the seed\'s message', async () => {
    await git(repoDir, ['tag', 'v1.0.19']);
    const res = await tagship(['release', 'start', 'v1.0.19', '--config', configFile, '--wait']);
    assert.equal(res.exitCode, 1);
    assert.match(res.stderr, /ERROR: Tag version \(1\.0\.19\) doesn't match package version \(1\.0\.18\)/);
    // Failure messages are encrypted in history; the follower decodes them for the step list.
    assert.match(res.stdout, /✗ validate: ERROR: Tag version \(1\.0\.19\)/);
  });

  it('a tag that is not v*.*.* is refused before anything starts', async () => {
    const res = await tagship(['release', 'start', '1.0.18', '--config', configFile]);
    assert.equal(res.exitCode, 1);
    assert.match(res.stderr, /1\.0\.18.*v\*\.\*\.\*/);
    assert.doesNotMatch(res.stdout, /started/);
  });

  it('Ctrl-C stops the worker and every server of the stack', async () => {
    dev.kill('SIGINT');
    const result = await dev;
    assert.equal(result.exitCode, 0, devOutput);
    assert.equal(await httpOk(`http://127.0.0.1:${ports.index}/health`), false);
    assert.equal(await httpOk(`http://127.0.0.1:${ports.registry}/v2/`), false);
  });
});
