// A release's step ids: "validate", "preflight", "build:<package>", "publish:<package>", "visible:<package>",
// "image:<variant>", "github-release", "finish". Each is the activity id of its step in history, the
// row of the status table, and what an operator names to retry or skip; they never change.
import type { TagshipConfig } from '../config/schema';

export type StepKind = 'validate' | 'preflight' | 'build' | 'publish' | 'visible' | 'image' | 'github';

export const VALIDATE_STEP = 'validate';
export const PREFLIGHT_STEP = 'preflight';
export const GITHUB_RELEASE_STEP = 'github-release';
export const FINISH_STEP = 'finish';

/** "build:open-ticket-ai": a step of one package or variant. */
export function stepId(kind: 'build' | 'publish' | 'visible' | 'image', subject: string): string {
  return `${kind}:${subject}`;
}

/** Every step of a release of this config, in the order the status table shows them. */
export function stepNames(
  config: Pick<TagshipConfig, 'packages' | 'variants'> & { readonly github_release?: { readonly enabled?: boolean } },
  dryRun: boolean,
  withPreflight = false,
): string[] {
  // Releases started before preflight existed have no such step (dry runs upload nothing to check).
  const names = [VALIDATE_STEP, ...(withPreflight && !dryRun ? [PREFLIGHT_STEP] : []), ...config.packages.map((p) => stepId('build', p.name))];
  if (!dryRun) {
    for (const p of config.packages) names.push(stepId('publish', p.name), stepId('visible', p.name));
    names.push(...config.variants.map((v) => stepId('image', v.name)));
    // Releases recorded before the GitHub Release existed carry configs without the key: no step.
    if (config.github_release?.enabled === true) names.push(GITHUB_RELEASE_STEP);
  }
  names.push(FINISH_STEP);
  return names;
}

/** Steps an operator may never skip: without them there is no release to go on with. */
export function isUnskippable(step: string): boolean {
  return step === VALIDATE_STEP || step === FINISH_STEP;
}
