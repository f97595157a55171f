// Messages a running release accepts. Shared by the workflow and its clients (server, CLI).
import { defineSignal } from '@temporalio/workflow';

export interface StartReleaseSignal {
  readonly tag: string;
  readonly dryRun?: boolean;
  /** GitHub Actions OIDC ID token for PyPI's audience, forwarded by CI (encrypted in history). */
  readonly pypiOidcToken?: string;
}

/** Sent with signal-with-start by CI (`POST /api/releases`); a repeat only refreshes the token. */
export const startReleaseSignal = defineSignal<[StartReleaseSignal]>('startRelease');

/** A fresh OIDC token for publish steps waiting because theirs was missing or expired. */
export const oidcTokenSignal = defineSignal<[{ readonly token: string }]>('oidcToken');
