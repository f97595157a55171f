// An operator rescuing a release with the CLI, on real parts: the registry is down, so every image
// step exhausts its retries and waits; the operator brings the registry up, retries three images
// and skips one, and the release finishes. Another release is aborted. Each test starts its own
// release (its own version and registry port).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import type { TagshipConfig } from '../src/config/schema';
import { startRelease, type StartedRelease } from '../src/client/start';
import { liveStatus } from '../src/client/status';
import { freePort } from '../src/dev/stack/service';
import { startRegistry, type LocalRegistry } from '../src/dev/stack/registry';
import { tagVersion } from '../src/dev/demo/example-repo';
import { eventually } from './support/eventually';
import { registryGoneAfterPreflight } from './support/registry-gone-after-preflight';
import { startReleaseEnv, type ReleaseEnv } from './support/release-env';

const BIN = fileURLToPath(new URL('../bin/tagship.js', import.meta.url));
/** The version the test repository starts at, already tagged. */
const FIRST_VERSION = '1.0.18';

describe('operating a release from the CLI', { timeout: 10 * 60_000 }, () => {
  let env: ReleaseEnv;
  const registries: LocalRegistry[] = [];
  let configFile: string;

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

  /**
   * What each test starts from, of its own: a release of `version` (tagged here unless it is the
   * repository's first version) whose images go to a registry that goes down after preflight, with
   * one attempt per image, until every image step waits for an operator.
   */
  async function stuckRelease(version: string): Promise<{ release: StartedRelease; registryPort: number }> {
    const registryPort = await freePort();
    const config: TagshipConfig = {
      ...env.config,
      images: { ...env.config.images, repository: `127.0.0.1:${registryPort}/softoft-orga/open-ticket-ai` },
      retries: { ...env.config.retries, image: 1 },
    };
    const tag = version === FIRST_VERSION ? `v${FIRST_VERSION}` : (await tagVersion(env.repoDir, version)).tag;
    let release!: StartedRelease;
    await registryGoneAfterPreflight(
      join(env.root, `registry-early-${version}`),
      registryPort,
      async () => (release = await startRelease(env.client, env.target, config, tag)),
    );
    await eventually(
      `every image step of ${tag} waiting for an operator while the registry is down`,
      () => liveStatus(release.handle),
      (status) => status.steps.filter((s) => s.state === 'waiting-for-operator').length === 4,
      { timeoutMs: 180_000, intervalMs: 300, show: (status) => JSON.stringify(status.steps) },
    );
    return { release, registryPort };
  }

  before(async () => {
    env = await startReleaseEnv(FIRST_VERSION);
    configFile = join(env.root, 'tagship.toml');
    await writeFile(configFile, '[repository]\nowner = "Softoft-Orga"\nname = "open-ticket-ai"\n');
  });
  after(async () => {
    for (const registry of registries) await registry.stop();
    await env?.stop();
  });

  it('shows every image step waiting for an operator while the registry is down', async () => {
    await stuckRelease('1.0.20');
    const res = await tagship(['release', 'status', 'v1.0.20']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stdout, /^release\/Softoft-Orga\/open-ticket-ai\/v1\.0\.20 {2}waiting-for-operator$/m);
    assert.match(res.stdout, /✓ publish:otai-hf-local +succeeded/);
    assert.match(res.stdout, /⏸ image:core +waiting-for-operator +.*127\.0\.0\.1:\d+/);
  });

  it('retries and skips with the CLI until the release succeeds; refused actions exit 1 with the reason', async () => {
    const { registryPort } = await stuckRelease(FIRST_VERSION);
    registries.push(await startRegistry({ dataDir: join(env.root, 'late-registry'), port: registryPort }));
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
    await stuckRelease('1.0.19');
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
