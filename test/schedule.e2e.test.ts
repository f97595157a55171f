// `tagship schedule …` against the real dev server with a worker: apply is idempotent, show and
// pause/unpause report state, trigger runs republishLatest, delete removes it. Also `tagship setup`.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { startReleaseEnv, type ReleaseEnv } from './support/release-env';

const BIN = fileURLToPath(new URL('../bin/tagship.js', import.meta.url));

describe('tagship schedule', { timeout: 5 * 60_000 }, () => {
  let env: ReleaseEnv;
  let configFile: string;

  const writeConfig = (cron: string) =>
    writeFile(configFile, [
      '[repository]', 'owner = "Softoft-Orga"', 'name = "open-ticket-ai"',
      '[images]', `repository = "${env.config.images.repository}"`, 'builder = "buildah"', 'insecure = true',
      '[schedule]', `republish_latest = "${cron}"`, '',
    ].join('\n'));

  const tagship = (args: string[]) =>
    execa('node', [BIN, ...args], {
      reject: false,
      env: { TAGSHIP_TEMPORAL_ADDRESS: env.target.address, TAGSHIP_TASK_QUEUE: env.target.taskQueue, TAGSHIP_CODEC_KEYS_FILE: env.stack.codecKeysFile },
    });
  const schedule = (verb: string, ...extra: string[]) => tagship(['schedule', verb, '--config', configFile, ...extra]);

  before(async () => {
    env = await startReleaseEnv('1.0.18');
    configFile = join(env.root, 'tagship.toml');
    await writeConfig('17 4 * * *');
  });
  after(async () => {
    await env?.stop();
  });

  it('apply creates once, then is unchanged, then updates when the cron changes', async () => {
    assert.match((await schedule('apply')).stdout, /tagship-latest\/Softoft-Orga\/open-ticket-ai: created \(cron "17 4 \* \* \*" UTC\)/);
    assert.match((await schedule('apply')).stdout, /: unchanged/);
    await writeConfig('5 3 * * 1');
    assert.match((await schedule('apply')).stdout, /: updated \(cron "5 3 \* \* 1" UTC\)/);
    const show = await schedule('show');
    assert.equal(show.exitCode, 0, show.stderr);
    assert.match(show.stdout, /active/);
    assert.match(show.stdout, /cron: +5 3 \* \* 1 \(UTC\)/);
    assert.match(show.stdout, /next: +\d{4}-\d\d-\d\dT03:05:00\.000Z/);
  });

  it('pause and unpause show in show, with the note', async () => {
    await schedule('pause', '--note', 'registry maintenance');
    assert.match((await schedule('show')).stdout, /paused \(registry maintenance\)/);
    await schedule('unpause');
    assert.match((await schedule('show')).stdout, /active/);
  });

  it('trigger runs republishLatest now', async () => {
    assert.equal((await schedule('trigger')).exitCode, 0);
    let done = false;
    for (let i = 0; i < 100 && !done; i++) {
      for await (const wf of env.client.workflow.list({ query: `WorkflowType = 'republishLatest' AND ExecutionStatus = 'Completed'` })) done = !!wf;
      if (!done) await new Promise((r) => setTimeout(r, 300));
    }
    assert.ok(done, 'a republishLatest run completed');
    assert.match((await schedule('show')).stdout, /runs: +1 taken/);
  });

  it('delete removes it; show then says how to create it', async () => {
    assert.match((await schedule('delete')).stdout, /deleted/);
    const show = await schedule('show');
    assert.equal(show.exitCode, 1);
    assert.match(show.stderr, /no schedule tagship-latest\/Softoft-Orga\/open-ticket-ai: run 'tagship schedule apply' first/);
  });

  it('setup finds the search attributes the dev server registered', async () => {
    const res = await tagship(['setup']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stdout, /added nothing; already present TagshipRepo, TagshipVersion, TagshipStatus|already present .*TagshipStatus/);
  });
});
