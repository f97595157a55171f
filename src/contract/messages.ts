// Every message a running release accepts, shared by the workflow and its clients (server, CLI,
// the Temporal UI's "Send signal"): CI's start and token signals, and what an operator may ask:
// its status, and for a step waiting after exhausting its retries, to retry it, skip it, or abort
// the release. Each operator action exists as an update (answers whether it was accepted) and as a
// signal (the UI's button). The names are the wire contract; they never change.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ReleaseStatus, ReleaseUnderWay } from './release';

export interface StartReleaseSignal {
  readonly tag: string;
  readonly dryRun?: boolean;
  /** GitHub Actions OIDC ID token for PyPI's audience, forwarded by CI (encrypted in history). */
  readonly pypiOidcToken?: string;
}

/** Sent with signal-with-start by CI (`POST /api/releases`); a repeat only refreshes the token. */
export const startReleaseSignal = defineSignal<[StartReleaseSignal]>('startRelease');

/**
 * CI's start with an answer (`POST /api/releases`, by update-with-start): takes what startRelease
 * takes, and completes once validate and preflight passed, so CI learns at once whether the release
 * is under way; it fails with the step's error when either stops it or waits for an operator.
 */
export const releaseUnderWayUpdate = defineUpdate<ReleaseUnderWay, [StartReleaseSignal]>('startReleaseAndWait');

/** A fresh OIDC token for publish steps waiting because theirs was missing or expired. */
export const oidcTokenSignal = defineSignal<[{ readonly token: string }]>('oidcToken');

export const statusQuery = defineQuery<ReleaseStatus>('status');

export const retryUpdate = defineUpdate<string, [string]>('retry');
export const skipUpdate = defineUpdate<string, [string]>('skip');
export const abortUpdate = defineUpdate<string, [string]>('abort');

export const retrySignal = defineSignal<[string]>('retryStep');
export const skipSignal = defineSignal<[string]>('skipStep');
export const abortSignal = defineSignal<[string]>('abortRelease');
