// `tagship release start`: start (or join) the release of a tag and optionally follow it.
import type { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import { CONFIG_FILE, loadConfigOption } from '../config';
import { connectClient, followRelease, startRelease, targetFromEnv, workflowUiLink } from '../release-client';
import { formatStep, formatSummary } from '../summary-format';
import { registerOperatorCommands } from './operator-commands';

function causeChain(err: unknown): string {
  const parts: string[] = [];
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e) {
    if (e.message) parts.push(e.message);
    e = e.cause as typeof e;
  }
  return parts.join('\n  caused by: ');
}

export function registerReleaseCommands(program: Command): void {
  const release = program.command('release').description('start, follow and operate releases');
  registerOperatorCommands(release);
  release
    .command('start')
    .argument('<tag>', 'the pushed tag, e.g. v1.0.18')
    .description('start the release of a tag (joins the running release of the same version, if any)')
    .option('--config <file>', `configuration file (default ./${CONFIG_FILE}; the seed's defaults when absent)`)
    .option('--dry-run', 'validate and build only; upload and push nothing', false)
    .option('--wait', 'follow the steps until the release ends; the exit code is its outcome', false)
    .action(async (tag: string, opts: { config?: string; dryRun: boolean; wait: boolean }) => {
      const config = await loadConfigOption(opts.config);
      const target = targetFromEnv();
      const client = await connectClient(target);
      try {
        const started = await startRelease(client, target, config, tag, { dryRun: opts.dryRun });
        process.stdout.write(`${started.started ? 'started' : 'already running'}: ${started.workflowId}\n${workflowUiLink(target, started.workflowId)}\n`);
        if (!opts.wait) return;
        try {
          const summary = await followRelease(started.handle, (e) => {
            const line = formatStep(e);
            if (line) process.stdout.write(`${line}\n`);
          });
          process.stdout.write(`\n${formatSummary(summary)}\n`);
        } catch (err) {
          if (!(err instanceof WorkflowFailedError)) throw err;
          process.stderr.write(`release failed: ${causeChain(err.cause)}\n`);
          process.exitCode = 1;
        }
      } finally {
        await client.connection.close();
      }
    });
}
