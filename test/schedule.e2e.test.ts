// `tagship schedule …` against the real dev server with a worker: apply is idempotent, show and
// pause/unpause report state, trigger runs republishLatest, delete removes it. Also `tagship setup`.
// Each test works on a schedule of its own (its own repository in its own tagship.toml).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { loadConfig } from '../src/config/load';
import { scheduleId } from '../src/client/schedules';
import { eventually } from './support/eventually';
import { startReleaseEnv, type ReleaseEnv } from './support/release-env';

const BIN = fileURLToPath(new URL('../bin/tagship.js', import.meta.url));

describe('tagship schedule', { timeout: 5 * 60_000 }, () => {
  let env: ReleaseEnv;

  const tagship = (args: string[]) =>
    execa('node', [BIN, ...args], {
      reject: false,
      env: { TAGSHIP_TEMPORAL_ADDRESS: env.target.address, TAGSHIP_TASK_QUEUE: env.target.taskQueue, TAGSHIP_CODEC_KEYS_FILE: env.stack.codecKeysFile },
    });

  /**
   * A tagship.toml of its own for each test (repository Softoft-Orga/<name>, so its own schedule
   * tagship-latest/Softoft-Orga/<name>): no test sees a schedule another one created, paused or deleted.
   */
  async function scheduleOf(name: string, cron = '17 4 * * *') {
    const configFile = join(env.root, `${name}.toml`);
    const writeConfig = (c: string) =>
      writeFile(
        configFile,
        [
          '[repository]',
          'owner = "Softoft-Orga"',
          `name = "${name}"`,
          '[images]',
          `repository = "${env.config.images.repository}"`,
          'builder = "buildah"',
          'insecure = true',
          '[schedule]',
          `republish_latest = "${c}"`,
          '',
        ].join('\n'),
      );
    await writeConfig(cron);
    const id = `tagship-latest/Softoft-Orga/${name}`;
    assert.equal(scheduleId(await loadConfig(configFile)), id);
    const schedule = (verb: string, ...extra: string[]) => tagship(['schedule', verb, '--config', configFile, ...extra]);
    return { id, idPattern: id.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), schedule, writeConfig };
  }

  before(async () => {
    env = await startReleaseEnv('1.0.18');
  });
  after(async () => {
    await env?.stop();
  });

  it('apply creates once, then is unchanged, then updates when the cron changes', async () => {
    const { idPattern, schedule, writeConfig } = await scheduleOf('open-ticket-ai');
    assert.match((await schedule('apply')).stdout, new RegExp(`${idPattern}: created \\(cron "17 4 \\* \\* \\*" UTC\\)`));
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
    const { schedule } = await scheduleOf('pause-unpause');
    assert.equal((await schedule('apply')).exitCode, 0);
    await schedule('pause', '--note', 'registry maintenance');
    assert.match((await schedule('show')).stdout, /paused \(registry maintenance\)/);
    await schedule('unpause');
    assert.match((await schedule('show')).stdout, /active/);
  });

  it('trigger runs republishLatest now', async () => {
    const { id, schedule } = await scheduleOf('trigger-now');
    assert.equal((await schedule('apply')).exitCode, 0);
    assert.equal((await schedule('trigger')).exitCode, 0);
    const action = await eventually(
      `the triggered run of ${id}`,
      async () => (await env.client.schedule.getHandle(id).describe()).info.recentActions,
      (actions) => actions.length > 0,
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    assert.equal(action.length, 1);
    const run = action[0]!.action;
    assert.equal(run.type, 'startWorkflow');
    const handle = env.client.workflow.getHandle(run.workflow.workflowId, run.workflow.firstExecutionRunId);
    await handle.result();
    const described = await handle.describe();
    assert.equal(described.type, 'republishLatest');
    assert.equal(described.status.name, 'COMPLETED', 'a republishLatest run completed');
    assert.match((await schedule('show')).stdout, /runs: +1 taken/);
  });

  it('delete removes it; show then says how to create it', async () => {
    const { idPattern, schedule } = await scheduleOf('delete-me');
    assert.equal((await schedule('apply')).exitCode, 0);
    assert.match((await schedule('delete')).stdout, /deleted/);
    const show = await schedule('show');
    assert.equal(show.exitCode, 1);
    assert.match(show.stderr, new RegExp(`no schedule ${idPattern}: run 'tagship schedule apply' first`));
  });

  it('setup finds the search attributes the dev server registered', async () => {
    const res = await tagship(['setup']);
    assert.equal(res.exitCode, 0, res.stderr);
    assert.match(res.stdout, /added nothing; already present TagshipRepo, TagshipVersion, TagshipStatus|already present .*TagshipStatus/);
  });
});
