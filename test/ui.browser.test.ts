// The operator's view in the real Temporal UI (the dev server's), driven by headless Chromium:
// an image step that cannot push shows as waiting for an operator in the release's live step
// table; after the operator's retry, the UI shows the release completed.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TagshipConfig } from '../src/config/schema';
import { startRelease, type StartedRelease } from '../src/client/start';
import { liveStatus } from '../src/client/status';
import { findTool } from '../activities/lib/tools';
import { freePort } from '../src/dev/stack/service';
import { startRegistry, type LocalRegistry } from '../src/dev/stack/registry';
import { retryUpdate } from '../src/contract/messages';
import { eventually } from './support/eventually';
import { registryGoneAfterPreflight } from './support/registry-gone-after-preflight';
import { startReleaseEnv, type ReleaseEnv } from './support/release-env';

/** The UI renders user markdown in sandboxed frames; waits until one of them shows `text`, and returns that frame's text. */
async function textInFrames(page: Page, text: string, timeoutMs = 60_000): Promise<string> {
  const frames = await eventually(
    `a frame of the UI showing "${text}"`,
    // A frame that is navigating or detached has no text yet: it counts as empty, the next probe looks again.
    () => Promise.all(page.frames().map((frame) => frame.innerText('body').catch(() => ''))),
    (bodies) => bodies.some((body) => body.includes(text)),
    { timeoutMs, intervalMs: 500, show: (bodies) => JSON.stringify(bodies.map((b) => b.slice(0, 300))) },
  );
  return frames.find((body) => body.includes(text))!;
}

describe('Temporal UI (browser)', { timeout: 10 * 60_000 }, () => {
  let env: ReleaseEnv;
  let browser: Browser;
  let page: Page;
  let registry: LocalRegistry | undefined;
  let release: StartedRelease;
  let shots: string;

  before(async () => {
    env = await startReleaseEnv('1.0.18', { ui: true });
    const port = await freePort();
    const config: TagshipConfig = {
      ...env.config,
      images: { ...env.config.images, repository: `127.0.0.1:${port}/softoft-orga/open-ticket-ai` },
      variants: env.config.variants.filter((v) => v.name === 'core'),
      retries: { ...env.config.retries, image: 1 },
    };
    await registryGoneAfterPreflight(
      join(env.root, 'registry-early'),
      port,
      async () => (release = await startRelease(env.client, env.target, config, 'v1.0.18')),
    );
    await eventually(
      'the release waiting for an operator (its image cannot be pushed)',
      () => liveStatus(release.handle),
      (status) => status.state === 'waiting-for-operator',
      { timeoutMs: 180_000, intervalMs: 300, show: (status) => JSON.stringify(status) },
    );
    registry = await startRegistry({ dataDir: join(env.root, 'registry-late'), port });
    browser = await chromium.launch({ executablePath: findTool('chromium', 'apt-get install chromium'), args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    shots = join(env.root, 'screenshots');
    await mkdir(shots, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await registry?.stop();
    await env?.stop();
  });

  it('shows the image step waiting for an operator, then the completed release after a retry', async () => {
    const url = `${env.stack.temporal.uiUrl}/namespaces/default/workflows/${encodeURIComponent(release.workflowId)}`;
    await page.goto(url);
    await page.getByText('User Metadata', { exact: true }).first().click();
    // The live step table (current details) names the waiting step and what to do.
    const details = await textInFrames(page, 'Waiting for an operator: image:core');
    assert.match(details, /image:core\s+waiting-for-operator\s+push of 127\.0\.0\.1:\d+\/softoft-orga\/open-ticket-ai:1\.0\.18-core failed/);
    await page.screenshot({ path: join(shots, 'waiting.png'), fullPage: true });
    assert.equal((await liveStatus(release.handle)).steps.find((s) => s.step === 'image:core')?.state, 'waiting-for-operator');

    await release.handle.executeUpdate(retryUpdate, { args: ['image:core'] });
    await release.handle.result();
    await page.reload();
    await page.getByText('Completed', { exact: true }).first().waitFor({ timeout: 60_000 });
    await page.getByText('User Metadata', { exact: true }).first().click();
    const done = await textInFrames(page, 'Release v1.0.18 — succeeded');
    assert.match(done, /image:core\s+succeeded/);
    await page.screenshot({ path: join(shots, 'completed.png'), fullPage: true });
  });
});
