// Upload one package's built files to the index. Idempotent by content: a file the index already
// has with the same sha256 is done; one it has with another sha256 can never be fixed by retrying
// (indexes never let a file name be reused), so that is a permanent error naming both hashes.
import { rm } from 'node:fs/promises';
import type { BuiltFile, PublishedPackage } from '../src/contract/release';
import { tools } from './lib/tools';
import { runChild, UV_PASS, uvWorkerPaths } from './lib/child-process';
import { ownedTempDir } from './lib/leftovers';
import type { Credentials, WorkerSettings } from './lib/settings';
import { fetchArtifact } from './lib/artifact-store';
import { trustedPublishingCredentials } from './lib/trusted-publishing';
import { listProjectFilesForStep, type IndexFile } from './lib/simple-index';
import type { PublishConfig, PublishPackageInput } from '../src/contract/activities';
import { failure } from '../src/contract/failures';

export interface UploadPlan {
  readonly upload: readonly BuiltFile[];
  readonly alreadyPresent: readonly string[];
}

/** Compares what we built with what the index has. */
export function planUpload(indexUrl: string, built: readonly BuiltFile[], onIndex: readonly IndexFile[]): UploadPlan {
  const upload: BuiltFile[] = [];
  const alreadyPresent: string[] = [];
  for (const file of built) {
    const existing = onIndex.find((f) => f.filename === file.filename);
    if (!existing) {
      upload.push(file);
    } else if (existing.sha256 === file.sha256) {
      alreadyPresent.push(file.filename);
    } else {
      throw failure(
        'IndexFileConflict',
        `${file.filename} is already on ${indexUrl} with sha256 ${existing.sha256 ?? '(not listed)'}, but this release built sha256 ${file.sha256}; ` +
          'a published file can never be replaced: release a new version',
      );
    }
  }
  return { upload, alreadyPresent };
}

function statusOf(output: string): number | undefined {
  const m = /\b(?:status(?: code)?:?\s*|HTTP\s*)(\d{3})\b/i.exec(output) ?? /\b([45]\d\d) [A-Z][a-z]+/.exec(output);
  return m ? Number(m[1]) : undefined;
}

async function upload(config: PublishConfig, credentials: Credentials, paths: readonly string[]): Promise<void> {
  // Killed with its whole process group when the step is cancelled (child-process.ts): an upload
  // cut off before its request completes never lands on the index.
  const res = await runChild(tools.uv(), ['publish', '--no-progress', '--trusted-publishing', 'never', '--publish-url', config.index.upload_url, ...paths], {
    pass: UV_PASS,
    // Credentials only through this child's environment: argv is visible to every user of the machine.
    env: { ...uvWorkerPaths(), UV_PUBLISH_USERNAME: credentials.username, UV_PUBLISH_PASSWORD: credentials.password, NO_COLOR: '1' },
    secrets: [credentials.password],
  });
  if (res.exitCode === 0) return;
  const output = res.output.trim().split('\n').slice(-8).join('\n');
  const status = statusOf(output);
  const message = `upload to ${config.index.upload_url} failed${status ? ` (HTTP ${status})` : ''}:\n${output}`;
  // 4xx other than throttling/timeouts/conflicts will not change on retry; 409 means another
  // attempt raced us, which the next attempt's index check settles.
  if (status !== undefined && status >= 400 && status < 500 && ![408, 409, 429].includes(status)) {
    throw failure(status === 401 || status === 403 ? 'IndexAuthRejected' : 'IndexRejected', message);
  }
  throw new Error(message);
}

async function uploadCredentials(settings: WorkerSettings, input: PublishPackageInput): Promise<Credentials> {
  if (input.config.index.auth === 'trusted-publishing') {
    return trustedPublishingCredentials(input.config.index.oidc_url, input.oidcToken);
  }
  if (!settings.index) {
    throw failure(
      'IndexCredentialsMissing',
      'no index credentials on this worker: set TAGSHIP_INDEX_TOKEN (or TAGSHIP_INDEX_USERNAME and TAGSHIP_INDEX_PASSWORD), or use index.auth = "trusted-publishing"',
    );
  }
  return settings.index;
}

export async function publishPackage(settings: WorkerSettings, input: PublishPackageInput): Promise<PublishedPackage> {
  const plan = planUpload(input.config.index.upload_url, input.files, await listProjectFilesForStep(input.config.index.simple_url, input.package));
  if (plan.upload.length === 0) return { package: input.package, uploaded: [], alreadyPresent: plan.alreadyPresent };
  const credentials = await uploadCredentials(settings, input);
  const dir = await ownedTempDir('publish');
  try {
    const paths: string[] = [];
    for (const f of plan.upload) paths.push(await fetchArtifact(settings.artifactDir, f.sha256, f.filename, dir));
    await upload(input.config, credentials, paths);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { package: input.package, uploaded: plan.upload.map((f) => f.filename), alreadyPresent: plan.alreadyPresent };
}
