// `tagship schedule apply|show|pause|unpause|trigger|delete`: the scheduled re-publish of -latest.
import type { Command } from 'commander';
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { CONFIG_FILE, loadConfigOption } from '../config/load';
import type { TagshipConfig } from '../config/schema';
import { applySchedule, describeSchedule, scheduleId } from '../client/schedules';
import { connectClient, targetFromEnv } from '../client/connect';

async function withSchedule(opts: { config?: string }, fn: (client: Client, config: TagshipConfig, taskQueue: string) => Promise<void>): Promise<void> {
  const config = await loadConfigOption(opts.config);
  const target = targetFromEnv();
  const client = await connectClient(target);
  try {
    await fn(client, config, target.taskQueue);
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new Error(`no schedule ${scheduleId(config)}: run 'tagship schedule apply' first`, { cause: err });
    throw err;
  } finally {
    await client.connection.close();
  }
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('the schedule that re-publishes <variant>-latest');
  const cfg = ['--config <file>', `configuration file (default ./${CONFIG_FILE}, which must exist)`] as const;
  schedule
    .command('apply')
    .description('create or update the schedule from tagship.toml ([schedule] republish_latest); idempotent')
    .option(...cfg)
    .action((opts: { config?: string }) =>
      withSchedule(opts, async (client, config, taskQueue) => {
        const outcome = await applySchedule(client, config, taskQueue);
        process.stdout.write(`${scheduleId(config)}: ${outcome} (cron "${config.schedule.republish_latest}" UTC)\n`);
      }),
    );
  schedule
    .command('show')
    .option(...cfg)
    .description('state, cron, next and recent runs')
    .action((opts: { config?: string }) =>
      withSchedule(opts, async (client, config) => void process.stdout.write(`${await describeSchedule(client, config)}\n`)),
    );
  for (const verb of ['pause', 'unpause'] as const) {
    schedule
      .command(verb)
      .option(...cfg)
      .option('--note <text>', 'why (shown by show and in the UI)')
      .description(`${verb} the schedule`)
      .action((opts: { config?: string; note?: string }) =>
        withSchedule(opts, async (client, config) => {
          await client.schedule.getHandle(scheduleId(config))[verb](opts.note ?? `${verb}d with tagship schedule ${verb}`);
          process.stdout.write(`${scheduleId(config)}: ${verb}d\n`);
        }),
      );
  }
  schedule
    .command('trigger')
    .option(...cfg)
    .description('run the re-publish now')
    .action((opts: { config?: string }) =>
      withSchedule(opts, async (client, config) => {
        await client.schedule.getHandle(scheduleId(config)).trigger();
        process.stdout.write(`${scheduleId(config)}: triggered\n`);
      }),
    );
  schedule
    .command('delete')
    .option(...cfg)
    .description('delete the schedule (releases are unaffected)')
    .action((opts: { config?: string }) =>
      withSchedule(opts, async (client, config) => {
        await client.schedule.getHandle(scheduleId(config)).delete();
        process.stdout.write(`${scheduleId(config)}: deleted\n`);
      }),
    );
}
