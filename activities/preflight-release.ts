// Preflight: before anything irreversible (an upload can never be replaced), check that every
// destination the release writes to will take it. Filled in by the preflight checks in ./lib.
import type { PreflightInput, PreflightResult } from '../src/contract/activities';
import type { WorkerSettings } from './lib/settings';

export function preflightRelease(_settings: WorkerSettings, _input: PreflightInput): Promise<PreflightResult> {
  return Promise.resolve({ checks: [] });
}
