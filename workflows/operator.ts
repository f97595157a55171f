// What an operator can ask of a running release, from the CLI or the Temporal UI: its status,
// and for a step waiting after exhausting its retries, to retry it, skip it, or abort the release.
// Each action exists as an update (answers whether it was accepted) and as a signal (the UI's
// "Send signal" button).
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ReleaseStatus } from '../src/release-types';

export const statusQuery = defineQuery<ReleaseStatus>('status');

export const retryUpdate = defineUpdate<string, [string]>('retry');
export const skipUpdate = defineUpdate<string, [string]>('skip');
export const abortUpdate = defineUpdate<string, [string]>('abort');

export const retrySignal = defineSignal<[string]>('retryStep');
export const skipSignal = defineSignal<[string]>('skipStep');
export const abortSignal = defineSignal<[string]>('abortRelease');
