// `tagship worker`: run a worker against a Temporal server (see README for the environment).
import type { Command } from 'commander';
import { targetFromEnv } from '../client/connect';
import { CodecKeyError } from '../codec/encryption-codec';
import { settingsFromEnv, WorkerSettingsError, type LimitFlags } from '../../worker/settings';
import { runWorker } from '../../worker/run';
import type { WorkerSettings } from '../../activities/lib/settings';

/** Exit code of a worker that refuses to start with its settings (as commander's usage errors). */
const EXIT_REFUSED = 2;

// Without keys, every release's inputs and results, failure messages and the OIDC tokens CI
// forwards rest in Temporal's history in plain text, readable by anyone who can read history.
const NO_KEYS =
  'tagship worker: refusing to start without payload encryption keys: without them every release input and result, ' +
  "failure message and OIDC token CI forwards is written to Temporal's history in plain text.\n" +
  '  Set TAGSHIP_CODEC_KEYS (or TAGSHIP_CODEC_KEYS_FILE, a file holding the same) to <key-id>:<base64 of 32 random bytes>,\n' +
  '  the same on every worker, on `tagship server` and on every CLI that reads releases, e.g.:\n' +
  '    export TAGSHIP_CODEC_KEYS="k1:$(openssl rand -base64 32)"\n' +
  '  To run without encryption anyway (a throwaway dev server), pass --insecure-plaintext-history.\n';

const PLAINTEXT_WARNING =
  "tagship worker: WARNING: --insecure-plaintext-history: no TAGSHIP_CODEC_KEYS, so payloads go to Temporal's history " +
  'in plain text (release inputs and results, failure messages, forwarded OIDC tokens); never use this in production.\n';

interface WorkerOptions extends LimitFlags {
  readonly metrics?: string;
  readonly insecurePlaintextHistory?: boolean;
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker: the release workflow and its activities (git, uv, index, builder, registry)')
    .option('--metrics <host:port>', 'serve Prometheus metrics of the SDK runtime', process.env.TAGSHIP_METRICS_ADDRESS)
    .option('--builds <n>', 'package builds (uv build) at once on this worker (TAGSHIP_BUILDS; default: the number of CPUs)')
    .option('--image-builds <n>', 'image builds at once on this worker (TAGSHIP_IMAGE_BUILDS; default 2)')
    .option('--max-activities <n>', 'activities of any kind at once on this worker (TAGSHIP_MAX_ACTIVITIES; default: the SDK default, 100)')
    .option('--max-workflow-tasks <n>', 'workflow tasks at once on this worker, at least 2 (TAGSHIP_MAX_WORKFLOW_TASKS; default: the SDK default)')
    .option('--insecure-plaintext-history', 'start without TAGSHIP_CODEC_KEYS: payloads go to history unencrypted (development only)')
    .action(async (opts: WorkerOptions) => {
      let settings: WorkerSettings;
      try {
        settings = settingsFromEnv(process.env, opts);
      } catch (err) {
        if (!(err instanceof WorkerSettingsError || err instanceof CodecKeyError)) throw err;
        process.stderr.write(`tagship worker: ${err.message}\n`);
        process.exitCode = EXIT_REFUSED;
        return;
      }
      if (!settings.codec) {
        if (!opts.insecurePlaintextHistory) {
          process.stderr.write(NO_KEYS);
          process.exitCode = EXIT_REFUSED;
          return;
        }
        process.stderr.write(PLAINTEXT_WARNING);
      }
      const target = targetFromEnv();
      const limits = settings.limits;
      process.stderr.write(
        `tagship worker: ${target.address} namespace ${target.namespace} task queue ${target.taskQueue}; at once: ` +
          `${limits?.builds} package builds, ${limits?.imageBuilds} image builds, ` +
          `${limits?.activities ?? 'SDK default'} activities, ${limits?.workflowTasks ?? 'SDK default'} workflow tasks\n`,
      );
      await runWorker({ ...target, settings, ...(opts.metrics ? { metricsAddress: opts.metrics } : {}) });
    });
}
