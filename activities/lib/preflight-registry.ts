// Whether the registry will take this release's images, asked the only way a registry answers it:
// start a blob upload, which needs push permission on the repository, then cancel it. Reading a
// manifest proves only pull; a registry's token endpoint hands out tokens with fewer rights than
// asked for, so only the upload itself says yes or no. A cancelled upload leaves no blob, tag or
// repository behind (registries that miss the cancel purge unfinished uploads themselves).
import type { PreflightConfig } from '../../src/contract/activities';
import { parseImageRepository } from './registry-client';
import type { Credentials } from './settings';
import { answerText, deadline, isTransientStatus, networkReason, refused, unreachable } from './preflight-check';

const CHECK = 'registry push';
const CREDENTIALS_HINT = 'this worker has no registry credentials: set TAGSHIP_REGISTRY_TOKEN, or TAGSHIP_REGISTRY_USERNAME and TAGSHIP_REGISTRY_PASSWORD';

function basic(auth: Credentials): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

/** One repository's conversation with its registry: Basic credentials, or the Bearer token its challenge asks for. */
class Session {
  private authorization: string | undefined;
  readonly origin: string;

  constructor(
    readonly name: string,
    readonly registry: string,
    insecure: boolean,
    private readonly auth: Credentials | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.origin = `${insecure ? 'http' : 'https'}://${registry}`;
    this.authorization = auth ? basic(auth) : undefined;
  }

  private async fetch(url: URL, init: RequestInit, what: string): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: deadline(this.signal) });
    } catch (err) {
      if (this.signal?.aborted) throw this.signal.reason;
      throw unreachable(CHECK, `cannot reach ${this.registry} to ${what}: ${networkReason(err)}`);
    }
  }

  /** Sends with the session's credentials; answers a Bearer challenge once, with a token for the scope it names. */
  async send(method: string, url: URL, what: string): Promise<Response> {
    // Credentials go only to the registry itself, never to a host an upload location points at.
    const own = url.origin === this.origin;
    const headers = (): Record<string, string> => (own && this.authorization ? { authorization: this.authorization } : {});
    let res = await this.fetch(url, { method, headers: headers() }, what);
    const challenge = res.headers.get('www-authenticate') ?? '';
    if (res.status === 401 && own && /^bearer /i.test(challenge)) {
      await res.body?.cancel();
      this.authorization = `Bearer ${await this.token(challenge)}`;
      res = await this.fetch(url, { method, headers: headers() }, what);
    }
    return res;
  }

  private async token(challenge: string): Promise<string> {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    // The scope the registry asks for (distribution checks a DELETE as "delete"), as long as it is
    // this repository's; else what starting an upload needs.
    const asked = params.scope?.split(' ').find((s) => s.startsWith(`repository:${this.name}:`));
    if (!params.realm || !URL.canParse(params.realm))
      throw refused(CHECK, `${this.registry} asked for a token without a usable realm (${challenge.slice(0, 200)})`);
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', asked ?? `repository:${this.name}:pull,push`);
    const res = await this.fetch(url, { headers: this.auth ? { authorization: basic(this.auth) } : {} }, 'get a token');
    if (!res.ok) {
      const said = await answerText(res);
      const problem = `${url.origin} refused a token (${url.searchParams.get('scope')}) for ${this.registry}/${this.name} (HTTP ${res.status}${said ? `: ${said}` : ''})`;
      if (isTransientStatus(res.status)) throw unreachable(CHECK, problem);
      throw refused(CHECK, this.auth ? problem : `${problem}; ${CREDENTIALS_HINT}`);
    }
    const body = (await res.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') throw refused(CHECK, `${url.origin} answered without a token for ${this.registry}/${this.name}`);
    return token;
  }
}

/**
 * Starts a blob upload in `images.repository` with the worker's registry credentials and cancels
 * it; returns what was proven, or throws a PreflightProblem naming the repository and the answer.
 */
export async function checkRegistryPush(
  images: PreflightConfig['images'],
  auth: Credentials | undefined,
  variants: readonly string[],
  signal?: AbortSignal,
): Promise<string> {
  const ref = parseImageRepository(images.repository);
  const session = new Session(ref.repository, ref.registry, images.insecure, auth, signal);
  const start = new URL(`/v2/${ref.repository}/blobs/uploads/`, session.origin);
  const res = await session.send('POST', start, 'start an upload');
  if (!res.ok) {
    const said = await answerText(res);
    const problem = `${images.repository}: the registry refused to start an upload (HTTP ${res.status}${said ? `: ${said}` : ''})`;
    if (isTransientStatus(res.status)) throw unreachable(CHECK, problem);
    const hint =
      res.status === 401 || res.status === 403
        ? auth
          ? '; the worker needs push permission on it (TAGSHIP_REGISTRY_* credentials)'
          : `; ${CREDENTIALS_HINT}`
        : '';
    throw refused(CHECK, `${problem}${hint}`);
  }
  await res.body?.cancel();
  const who = `for ${variants.length === 1 ? 'variant' : 'variants'} ${variants.join(', ')}`;
  const location = res.headers.get('location');
  if (!location || !URL.canParse(location, start.href))
    return `push to ${images.repository} allowed ${who} (the registry started an upload and gave no location to cancel)`;
  // Push is proven once the upload started. A cancel that does not get through (distribution
  // checks a DELETE as "delete", which a push-only account may lack) leaves the empty upload to
  // the registry's purge of unfinished uploads; 404: it is gone already.
  let kept: string | undefined;
  try {
    const cancel = await session.send('DELETE', new URL(location, start), 'cancel the upload');
    await cancel.body?.cancel();
    if (!cancel.ok && cancel.status !== 404) kept = `its cancel answered HTTP ${cancel.status}`;
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    kept = `its cancel failed: ${(err as Error).message}`;
  }
  return kept === undefined
    ? `push to ${images.repository} allowed ${who} (an empty upload was started and cancelled; nothing was written)`
    : `push to ${images.repository} allowed ${who} (an empty upload was started, but ${kept}; it stays, empty, until the registry purges unfinished uploads)`;
}
