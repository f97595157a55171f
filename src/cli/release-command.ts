// `tagship release start`: start (or join) the release of a tag and optionally follow it.
import { CommanderError, type Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import { CONFIG_FILE, loadConfigOption } from '../config/load';
import { connectClient, targetFromEnv, workflowUiLink } from '../client/connect';
import { followRelease } from '../client/follow';
import { startRelease, TagRefError, tagFromRef } from '../client/start';
import { formatStep, formatSummary } from '../client/summary-format';
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

/** A command line that cannot mean anything: said like commander's own errors, exit code 2. */
function usage(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  throw new CommanderError(2, 'tagship.usage', message);
}

export function registerReleaseCommands(program: Command): void {
  const release = program.command('release').description('start, follow and operate releases');
  registerOperatorCommands(release);
  release
    .command('start')
    .argument('[tag]', 'the pushed tag, e.g. v1.0.18 (or give --ref)')
    .description('start the release of a tag (joins the running release of the same version, if any)')
    .option('--ref <branch|commit>', "release a branch or commit without a tag: tag it v<its packages' version>, push the tag, release it")
    .option('--version <version>', 'with --ref: the version to tag when every package takes its version from the tag')
    .option('--config <file>', `configuration file (default ./${CONFIG_FILE}, which must exist)`)
    .option('--dry-run', 'validate and build only; upload and push nothing', false)
    .option('--wait', 'follow the steps until the release ends; the exit code is its outcome', false)
    .action(async (tagArg: string | undefined, opts: { ref?: string; version?: string; config?: string; dryRun: boolean; wait: boolean }) => {
      if ((tagArg === undefined) === (opts.ref === undefined)) usage('give either a tag (release start v1.2.3) or --ref <branch|commit>, not both');
      if (opts.ref !== undefined && opts.dryRun) usage('--dry-run needs an existing tag: --ref creates and pushes one');
      if (opts.version !== undefined && opts.ref === undefined) usage('--version goes with --ref; a tag names its own version');
      const config = await loadConfigOption(opts.config);
      const target = targetFromEnv();
      const client = await connectClient(target);
      try {
        let tag = tagArg;
        if (opts.ref !== undefined) {
          let tagged;
          try {
            tagged = await tagFromRef(client, target, config, opts.ref, opts.version !== undefined ? { version: opts.version } : {});
          } catch (err) {
            if (!(err instanceof TagRefError)) throw err;
            process.stderr.write(`cannot release ${opts.ref}: ${err.message}\n`);
            process.exitCode = 1;
            return;
          }
          process.stdout.write(`${tagged.created ? 'tagged and pushed' : 'already tagged'}: ${tagged.tag} at ${tagged.commit} (${opts.ref})\n`);
          tag = tagged.tag;
        }
        const started = await startRelease(client, target, config, tag!, { dryRun: opts.dryRun });
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
