// `tagship release status|watch|retry|skip|abort|list`: what an operator does from a terminal,
// the same actions the Temporal UI offers through the step table and signals.
import type { Command } from 'commander';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { CONFIG_FILE, loadConfigOption } from '../config/load';
import type { TagshipConfig } from '../config/schema';
import { connectClient, targetFromEnv } from '../client/connect';
import { releaseIdentity } from '../client/start';
import { formatStatusTable, liveStatus, updateErrorMessage } from '../client/status';
import { TAGSHIP_STATUS } from '../contract/search-attributes';
import { abortUpdate, retryUpdate, skipUpdate } from '../contract/messages';

/** The operator's reason, when the release has ended aborted; undefined otherwise. */
async function abortOutcome(handle: WorkflowHandle): Promise<string | undefined> {
  // A refused abort leaves the release running; only a release that has already failed can have been aborted.
  const described = await handle.describe().catch(() => undefined);
  if (described?.status.name !== 'FAILED') return undefined;
  try {
    await handle.result();
    return undefined;
  } catch (err) {
    const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
    if (!(cause instanceof ApplicationFailure) || cause.type !== 'Aborted') return undefined;
    return /aborted by an operator: ([\s\S]*)$/.exec(cause.message)?.[1];
  }
}

interface ConfigOption {
  readonly config?: string;
}

async function withRelease<T>(
  tag: string,
  opts: ConfigOption,
  fn: (handle: WorkflowHandle, id: string, client: Client, config: TagshipConfig) => Promise<T>,
): Promise<T> {
  const config = await loadConfigOption(opts.config);
  const { workflowId: id } = releaseIdentity(config, tag);
  const client = await connectClient(targetFromEnv());
  try {
    return await fn(client.workflow.getHandle(id), id, client, config);
  } finally {
    await client.connection.close();
  }
}

const configOption = ['--config <file>', `configuration file (default ./${CONFIG_FILE}, which must exist)`] as const;

function decision(name: 'retry' | 'skip', update: typeof retryUpdate) {
  return async (tag: string, step: string, opts: ConfigOption) =>
    withRelease(tag, opts, async (handle) => {
      try {
        process.stdout.write(`${await handle.executeUpdate(update, { args: [step] })}\n`);
      } catch (err) {
        process.stderr.write(`${name} refused: ${updateErrorMessage(err)}\n`);
        process.exitCode = 1;
      }
    });
}

export function registerOperatorCommands(release: Command): void {
  release
    .command('status')
    .argument('<tag>')
    .description("print the release's steps and their states")
    .option(...configOption)
    .action((tag: string, opts: ConfigOption) =>
      withRelease(tag, opts, async (handle, id) => {
        process.stdout.write(`${formatStatusTable(id, await liveStatus(handle))}\n`);
      }),
    );

  release
    .command('watch')
    .argument('<tag>')
    .description('show the step table live until the release ends; the exit code is its outcome')
    .option(...configOption)
    .option('--interval <ms>', 'refresh interval', (v) => Number.parseInt(v, 10), 1000)
    .action((tag: string, opts: ConfigOption & { interval: number }) =>
      withRelease(tag, opts, async (handle, id) => {
        let last = '';
        for (;;) {
          const status = await liveStatus(handle);
          const table = formatStatusTable(id, status);
          if (table !== last) {
            // On a terminal, redraw in place; in a log, append only changes.
            process.stdout.write(process.stdout.isTTY ? `\x1b[H\x1b[2J${table}\n` : `${table}\n\n`);
            last = table;
          }
          if (status.workflowStatus !== 'RUNNING') {
            process.exitCode = status.workflowStatus === 'COMPLETED' ? 0 : 1;
            return;
          }
          await new Promise((r) => setTimeout(r, Math.max(200, opts.interval)));
        }
      }),
    );

  release
    .command('retry')
    .argument('<tag>')
    .argument('<step>', 'e.g. image:core')
    .description('retry a step that waits for an operator')
    .option(...configOption)
    .action(decision('retry', retryUpdate));
  release
    .command('skip')
    .argument('<tag>')
    .argument('<step>')
    .description('skip a step that waits for an operator (never validate)')
    .option(...configOption)
    .action(decision('skip', skipUpdate));

  release
    .command('abort')
    .argument('<tag>')
    .description('abort a running release: running steps are cancelled, the release fails with the reason')
    .requiredOption('--reason <text>', 'why (shown in the failure)')
    .option(...configOption)
    .action((tag: string, opts: ConfigOption & { reason: string }) =>
      withRelease(tag, opts, async (handle) => {
        try {
          process.stdout.write(`${await handle.executeUpdate(abortUpdate, { args: [opts.reason] })}\n`);
        } catch (err) {
          // The release may end in the same workflow task that takes the abort, before the server
          // records the update's answer; the release's own outcome then says whether it was ours.
          const abortedBy = await abortOutcome(handle);
          if (abortedBy === opts.reason.trim()) {
            process.stdout.write(`release ${tag} aborted: ${abortedBy}\n`);
            return;
          }
          process.stderr.write(`abort refused: ${updateErrorMessage(err)}\n`);
          process.exitCode = 1;
        }
      }),
    );

  release
    .command('list')
    .description("list this repository's releases, newest first")
    .option(...configOption)
    .option('--limit <n>', 'how many', (v) => Number.parseInt(v, 10), 20)
    .action(async (opts: ConfigOption & { limit: number }) => {
      const config = await loadConfigOption(opts.config);
      const repo = `${config.repository.owner}/${config.repository.name}`;
      const client = await connectClient(targetFromEnv());
      try {
        let n = 0;
        for await (const wf of client.workflow.list({ query: `WorkflowType = 'release' AND TagshipRepo = '${repo.replace(/'/g, '')}'` })) {
          const status = wf.typedSearchAttributes.get(TAGSHIP_STATUS) ?? wf.status.name.toLowerCase();
          process.stdout.write(`${wf.workflowId}  ${String(status).padEnd(20)}  started ${wf.startTime.toISOString()}\n`);
          if (++n >= opts.limit) break;
        }
        if (n === 0) process.stdout.write(`no releases of ${repo} yet\n`);
      } finally {
        await client.connection.close();
      }
    });
}
