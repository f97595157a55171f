// An operator rescuing a release with the CLI, on real parts: the registry is down, so every image
// step exhausts its retries and waits; the operator brings the registry up, retries three images
// and skips one, and the release finishes. Another release is aborted.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import type { TagshipConfig } from '../src/config/schema';
import { startRelease, type StartedRelease } from '../src/client/release-client';
import { liveStatus } from '../src/client/status';
import { freePort } from '../src/dev/stack/service';
import { startRegistry, type LocalRegistry } from '../src/dev/stack/registry';
import { startReleaseEnv, type ReleaseEnv } from './support/release-env';

const BIN = fileURLToPath(new URL('../bin/tagship.js', import.meta.url));

describe('operating a release from the CLI', { timeout: 10 * 60_000 }, () => {
  let env: ReleaseEnv;
  let registry: LocalRegistry | undefined;
  let registryPort: number;
  let config: TagshipConfig;
  let configFile: string;
  let release: StartedRelease;

  const tagship = (args: string[]) =>
    execa('node', [BIN, ...args, '--config', configFile], {
      reject: false,
      env: {
        TAGSHIP_TEMPORAL_ADDRESS: env.target.address,
        TAGSHIP_TASK_QUEUE: env.target.taskQueue,
        TAGSHIP_UI_URL: env.target.uiUrl,
        TAGSHIP_CODEC_KEYS_FILE: env.stack.codecKeysFile,
      },
    });

  before(async () => {
    env = await startReleaseEnv('1.0.18');
    registryPort = await freePort();
    config = {
      ...env.config,
      images: { ...env.config.images, repository: `127.0.0.1:${registryPort}/softoft-orga/open-ticket-ai` },
      retries: { ...env.config.retries, image: 1 },
    };
    configFile = join(env.root, 'tagship.toml');
    await writeFile(configFile, '[repository]\nowner = "Softoft-Orga"\nname = "open-ticket-ai"\n');
    release = await startRelease(env.client, env.target, config, 'v1.0.18');
  });
  after(async () => {
    await registry?.stop();
    await env?.stop();
  });

  it('shows every image step waiting for an operator while the registry is down', async () => {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const status = await liveStatus(release.handle);
      if (status.steps.filter((s) => s.state === 'waiting-for-operator').length === 4) break;
      assert.ok(Date.now() < deadline, `images should be waiting: ${JSON.stringify(status.steps)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    const res = await tagship(['release', 'status', 'v1.0.18']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stdout, /^release\/Softoft-Orga\/open-ticket-ai\/v1\.0\.18 {2}waiting-for-operator$/m);
    assert.match(res.stdout, /✓ publish:otai-hf-local +succeeded/);
    assert.match(res.stdout, /⏸ image:core +waiting-for-operator +.*127\.0\.0\.1:\d+/);
  });

  it('retries and skips with the CLI until the release succeeds; refused actions exit 1 with the reason', async () => {
    registry = await startRegistry({ dataDir: join(env.root, 'late-registry'), port: registryPort });
    for (const v of ['core', 'hf_local', 'otobo_znuny']) {
      const res = await tagship(['release', 'retry', 'v1.0.18', `image:${v}`]);
      assert.equal(res.exitCode, 0, res.stderr);
      assert.match(res.stdout, new RegExp(`image:${v}: retry accepted`));
    }
    const again = await tagship(['release', 'retry', 'v1.0.18', 'image:core']);
    assert.equal(again.exitCode, 1);
    assert.match(again.stderr, /retry refused: step image:core is (running|succeeded), not waiting for an operator/);
    const validate = await tagship(['release', 'skip', 'v1.0.18', 'validate']);
    assert.equal(validate.exitCode, 1);
    assert.match(validate.stderr, /step validate cannot be skipped/);
    const skip = await tagship(['release', 'skip', 'v1.0.18', 'image:all']);
    assert.equal(skip.exitCode, 0, skip.stderr);

    const watch = await tagship(['release', 'watch', 'v1.0.18', '--interval', '300']);
    assert.equal(watch.exitCode, 0, watch.stderr);
    const finalTable = watch.stdout.trim().split('\n\n').at(-1)!;
    assert.match(finalTable, /v1\.0\.18 {2}succeeded \(completed\)/);
    assert.match(finalTable, /✓ image:core +succeeded/);
    assert.match(finalTable, /↷ image:all +skipped +skipped by an operator/);
    assert.match(finalTable, /✓ finish +succeeded/);

    const list = await tagship(['release', 'list']);
    assert.match(list.stdout, /release\/Softoft-Orga\/open-ticket-ai\/v1\.0\.18 +succeeded/);
  });

  it('aborts a waiting release with a reason', async () => {
    await registry?.stop();
    registry = undefined;
    const { tagVersion } = await import('../src/dev/demo/example-repo');
    await tagVersion(env.repoDir, '1.0.19');
    const second = await startRelease(env.client, env.target, config, 'v1.0.19');
    for (let i = 0; i < 600; i++) {
      if ((await liveStatus(second.handle)).state === 'waiting-for-operator') break;
      await new Promise((r) => setTimeout(r, 300));
    }
    const noReason = await tagship(['release', 'abort', 'v1.0.19']);
    assert.notEqual(noReason.exitCode, 0);
    assert.match(noReason.stderr, /required option '--reason <text>'/);
    const abort = await tagship(['release', 'abort', 'v1.0.19', '--reason', 'registry migration']);
    assert.equal(abort.exitCode, 0, abort.stderr);
    const watch = await tagship(['release', 'watch', 'v1.0.19']);
    assert.equal(watch.exitCode, 1);
    assert.match(watch.stdout, /v1\.0\.19 {2}failed \(failed\)/);
    assert.match(watch.stdout, /✗ image:core +failed +aborted: registry migration/);
  });
});
