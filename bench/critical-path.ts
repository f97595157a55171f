// The release's dependency graph as the workflow runs it, used to judge its speed: the critical
// path is the longest chain of activity times the DAG cannot overlap; the seed's sequential order
// (validate, then each package's build and publish, then each image) is what a hand-written CI job does.
import type { TagshipConfig } from '../src/config/schema';

/** Step name ("build:open-ticket-ai") → milliseconds from scheduled to completed. */
export type StepTimes = ReadonlyMap<string, number>;

function time(times: StepTimes, step: string): number {
  const t = times.get(step);
  if (t === undefined) throw new Error(`no time recorded for step ${step}`);
  return t;
}

export function criticalPathMs(config: TagshipConfig, times: StepTimes): number {
  const builds = Math.max(...config.packages.map((p) => time(times, `build:${p.name}`)));
  const visibleAt = (pkg: string) => time(times, `publish:${pkg}`) + time(times, `visible:${pkg}`);
  const images = Math.max(...config.variants.map((v) => Math.max(...v.packages.map(visibleAt)) + time(times, `image:${v.name}`)));
  return time(times, 'validate') + builds + images;
}

export function sequentialMs(config: TagshipConfig, times: StepTimes): number {
  let sum = time(times, 'validate');
  for (const p of config.packages) sum += time(times, `build:${p.name}`) + time(times, `publish:${p.name}`) + time(times, `visible:${p.name}`);
  for (const v of config.variants) sum += time(times, `image:${v.name}`);
  return sum;
}
