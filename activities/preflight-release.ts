// Preflight: before anything irreversible (an upload can never be replaced), prove that every
// destination the release writes to will take it: push to the image repository, upload to the
// index, the GitHub Release, and the Dockerfile the image steps build from. Each check asks the
// real destination and leaves nothing behind; all run at once and every failure is reported in
// one message (lib/preflight-check), so an operator fixes everything before a single retry.
import { Context } from '@temporalio/activity';
import type { PreflightInput, PreflightResult } from '../src/contract/activities';
import { runChecks, type NamedCheck } from './lib/preflight-check';
import { checkDockerfile } from './lib/preflight-dockerfile';
import { checkGitHubRelease } from './lib/preflight-github';
import { checkIndexUpload } from './lib/preflight-index';
import { checkRegistryPush } from './lib/preflight-registry';
import { registerSecret } from './lib/redactor';
import type { WorkerSettings } from './lib/settings';

export async function preflightRelease(settings: WorkerSettings, input: PreflightInput): Promise<PreflightResult> {
  const { config, tag, commit, oidcToken } = input;
  // CI's token is this call's secret: a refusal that quoted it back must not carry it out.
  registerSecret(oidcToken);
  const signal = Context.current().cancellationSignal;
  const variants = config.variants.map((v) => v.name);
  const checks: NamedCheck[] = [];
  // Every variant pushes to the one images.repository and builds from the one Dockerfile.
  if (variants.length > 0) {
    checks.push({ check: 'registry push', run: () => checkRegistryPush(config.images, settings.registry, variants, signal) });
  }
  checks.push({ check: 'index upload', run: () => checkIndexUpload(config.index, settings.index, oidcToken, signal) });
  const github = config.github_release;
  if (github?.enabled === true) {
    checks.push({
      check: 'github release',
      run: () => checkGitHubRelease({ repository: config.repository, github_release: github }, settings.githubToken, signal),
    });
  }
  if (variants.length > 0) {
    checks.push({ check: 'dockerfile', run: () => checkDockerfile(settings.workDir, config, tag, commit, variants) });
  }
  return { checks: await runChecks(checks, signal) };
}
