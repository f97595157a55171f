// `tagship release start`: start (or join) the release of a tag, say whether it is under way
// (validate and preflight passed), and optionally follow it.
//
// The start is the update-with-start CI uses (POST /api/releases), so the command answers what
// validate and preflight found instead of "started" and nothing more: a person at a terminal
// waits the seconds validate takes anyway, and a script gets an exit code it can act on. Exit
// codes: 0 under way (or, with --wait, released), 1 stopped or failed, 2 a command line that means
// nothing, 4 a step waits for an operator (retry, skip or abort it).
import { CommanderError, type Command } from 'commander';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CONFIG_FILE, loadConfigOption } from '../config/load';
import type { StepStatus } from '../contract/release';
import { connectClient, targetFromEnv, workflowUiLink, type TemporalTarget } from '../client/connect';
import { followUntil } from '../client/follow';
import { startReleaseUnderWay, TagRefError, tagFromRef, type UnderWayStart } from '../client/start';
import { formatStep, formatSummary } from '../client/summary-format';
import { indentedTail, liveStatus } from '../client/status';
import { registerOperatorCommands } from './operator-commands';

/** The release goes on only once an operator retries, skips or aborts a step. */
export const EXIT_WAITING_FOR_OPERATOR = 4;

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

/** What an operator (or the CI job's reader) does about steps waiting for one, printed before exit 4. */
export function waitingMessage(tag: string, steps: readonly StepStatus[], ui: string, configFile: string | undefined): string {
  const config = configFile !== undefined ? ` --config ${configFile}` : '';
  const lines = [`release ${tag} waits for an operator:`];
  for (const s of steps) {
    const [first, ...rest] = (s.note ?? '').split('\n');
    lines.push(`  ${s.step}: ${first ?? ''}`.trimEnd(), ...indentedTail(rest));
  }
  const step = steps[0]?.step ?? '<step>';
  lines.push(
    'act on it:',
    `  tagship release retry ${tag} ${step}${config}    once the cause is fixed`,
    `  tagship release skip ${tag} ${step}${config}     go on without it (never validate or finish)`,
    `  tagship release abort ${tag} --reason "..."${config}`,
    `  or in the Temporal UI: ${ui}`,
  );
  return lines.join('\n');
}

async function waitingSteps(handle: WorkflowHandle): Promise<StepStatus[]> {
  const status = await liveStatus(handle).catch(() => undefined);
  return status?.steps.filter((s) => s.state === 'waiting-for-operator') ?? [];
}

interface StartOptions {
  readonly config?: string;
  readonly wait: boolean;
}

/** Prints the start's answer and, with --wait, follows the release; returns the exit code. */
async function report(started: UnderWayStart, tag: string, target: TemporalTarget, opts: StartOptions): Promise<number> {
  const ui = workflowUiLink(target, started.workflowId);
  process.stdout.write(`${started.joined ? 'already running' : 'started'}: ${started.workflowId}\n${ui}\n`);
  const waiting = (steps: readonly StepStatus[]) => {
    process.stderr.write(`${waitingMessage(tag, steps, ui, opts.config)}\n`);
    return EXIT_WAITING_FOR_OPERATOR;
  };
  const { answer } = started;
  switch (answer.kind) {
    case 'under-way': {
      const u = answer.underWay;
      process.stdout.write(`under way: ${u.tag} (version ${u.version}, commit ${u.commit.slice(0, 12)})\n`);
      for (const check of u.checks) process.stdout.write(`  ✓ ${check}\n`);
      break;
    }
    case 'starting':
      process.stdout.write(`still validating; follow it with: tagship release watch ${tag}\n`);
      break;
    case 'running':
      process.stdout.write('running (started by an older tagship, which cannot say whether validate and preflight passed)\n');
      break;
    case 'stopped': {
      const steps = await waitingSteps(started.handle);
      if (steps.length > 0) return waiting(steps);
      if (!opts.wait) {
        process.stderr.write(`release ${tag} stopped (${answer.type}): ${answer.message}\n`);
        return 1;
      }
      break;
    }
  }
  if (!opts.wait) return 0;
  try {
    const outcome = await followUntil(
      started.handle,
      (e) => {
        const line = formatStep(e);
        if (line) process.stdout.write(`${line}\n`);
      },
      { stopWhenWaiting: true },
    );
    if (outcome.kind === 'waiting') return waiting(outcome.steps);
    process.stdout.write(`\n${formatSummary(outcome.summary)}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    process.stderr.write(`release failed: ${causeChain(err.cause)}\n`);
    return 1;
  }
}

export function registerReleaseCommands(program: Command): void {
  const release = program.command('release').description('start, follow and operate releases');
  registerOperatorCommands(release);
  release
    .command('start')
    .argument('[tag]', 'the pushed tag, e.g. v1.0.18 (or give --ref)')
    .description(
      'start the release of a tag (joins the running release of the same version, if any) and say whether validate and preflight passed; ' +
        `exit 0 under way, 1 stopped, ${EXIT_WAITING_FOR_OPERATOR} waiting for an operator`,
    )
    .option('--ref <branch|commit>', "release a branch or commit without a tag: tag it v<its packages' version>, push the tag, release it")
    .option('--version <version>', 'with --ref: the version to tag when every package takes its version from the tag')
    .option('--config <file>', `configuration file (default ./${CONFIG_FILE}, which must exist)`)
    .option('--dry-run', 'validate and build only; upload and push nothing', false)
    .option(
      '--wait',
      `follow the steps until the release ends (exit 0 released, 1 failed) or a step waits for an operator (exit ${EXIT_WAITING_FOR_OPERATOR})`,
      false,
    )
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
        // On stderr: stdout stays what a script reads.
        process.stderr.write(`${tag}: waiting for validate and preflight (Ctrl-C stops waiting, not the release)\n`);
        const started = await startReleaseUnderWay(client, target, config, { tag: tag!, dryRun: opts.dryRun });
        process.exitCode = await report(started, tag!, target, opts);
      } finally {
        await client.connection.close();
      }
    });
}
