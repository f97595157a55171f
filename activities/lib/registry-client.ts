// A small client for the OCI distribution API (what docker-registry, GHCR and Docker Hub speak):
// read manifests and tags, and copy a manifest to another tag byte for byte so its digest is kept.
// Handles the Bearer token challenge real registries answer with; a local registry needs none.
import { createHash } from 'node:crypto';
import type { TagshipConfig } from '../../src/config/schema';
import type { Credentials } from './settings';
import { failure } from '../../src/contract/failures';

export const INDEX_MEDIA_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'] as const;
const MANIFEST_MEDIA_TYPES = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'] as const;
const ACCEPT_ANY = [...INDEX_MEDIA_TYPES, ...MANIFEST_MEDIA_TYPES].join(', ');

export class RegistryError extends Error {
  override name = 'RegistryError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
  /** 5xx, 429 and network failures are worth another attempt; other 4xx are not. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

export interface ImageRef {
  /** host[:port] */
  readonly registry: string;
  /** path inside the registry, e.g. "softoft-orga/open-ticket-ai" */
  readonly repository: string;
}

/** Splits "host[:port]/path" (the config's images.repository, already validated). */
export function parseImageRepository(repository: string): ImageRef {
  const slash = repository.indexOf('/');
  return { registry: repository.slice(0, slash), repository: repository.slice(slash + 1) };
}

export interface Manifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
  readonly json: {
    mediaType?: string;
    manifests?: { digest: string; mediaType?: string; platform?: { os: string; architecture: string; variant?: string } }[];
    config?: { digest: string };
    layers?: LayerDescriptor[];
  };
}

export interface LayerDescriptor {
  readonly digest: string;
  readonly mediaType: string;
  readonly size?: number;
}

export interface RegistryClientOptions {
  readonly insecure?: boolean;
  readonly auth?: Credentials;
  readonly signal?: AbortSignal;
}

export class RegistryClient {
  private token: string | undefined;
  private readonly base: string;

  constructor(
    readonly ref: ImageRef,
    private readonly opts: RegistryClientOptions = {},
  ) {
    this.base = `${opts.insecure ? 'http' : 'https'}://${ref.registry}/v2/${ref.repository}`;
  }

  private async request(
    path: string,
    init: { method?: string; accept?: string; body?: Buffer; contentType?: string; timeoutMs?: number },
    scope: string,
  ): Promise<Response> {
    const send = () => {
      const headers: Record<string, string> = {};
      if (init.accept) headers.accept = init.accept;
      if (init.contentType) headers['content-type'] = init.contentType;
      if (this.token) headers.authorization = `Bearer ${this.token}`;
      else if (this.opts.auth) headers.authorization = `Basic ${Buffer.from(`${this.opts.auth.username}:${this.opts.auth.password}`).toString('base64')}`;
      return fetch(`${this.base}${path}`, {
        method: init.method ?? 'GET',
        headers,
        ...(init.body ? { body: init.body } : {}),
        signal: this.deadline(init.timeoutMs ?? 60_000),
      });
    };
    let res: Response;
    try {
      res = await send();
      if (res.status === 401) {
        const challenge = res.headers.get('www-authenticate') ?? '';
        await res.body?.cancel();
        if (!/^bearer /i.test(challenge)) throw new RegistryError(`${this.ref.registry} refused the credentials (401)`, 401);
        this.token = await this.fetchToken(challenge, scope);
        res = await send();
      }
    } catch (err) {
      // A cancelled step is a cancellation, not a registry that could not be reached (which would be retried).
      if (this.opts.signal?.aborted) throw this.opts.signal.reason;
      if (err instanceof RegistryError) throw err;
      throw new RegistryError(`cannot reach registry ${this.ref.registry}: ${(err as Error).message}`, 0);
    }
    return res;
  }

  /** The request's own time limit, and the caller's cancel besides: each applies whichever comes first. */
  private deadline(timeoutMs: number): AbortSignal {
    const timeout = AbortSignal.timeout(timeoutMs);
    return this.opts.signal ? AbortSignal.any([this.opts.signal, timeout]) : timeout;
  }

  private async fetchToken(challenge: string, scope: string): Promise<string> {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    if (!params.realm) throw new RegistryError(`${this.ref.registry} sent an auth challenge without a realm`, 401);
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', `repository:${this.ref.repository}:${scope}`);
    const headers: Record<string, string> = {};
    if (this.opts.auth) headers.authorization = `Basic ${Buffer.from(`${this.opts.auth.username}:${this.opts.auth.password}`).toString('base64')}`;
    const res = await fetch(url, { headers, signal: this.deadline(30_000) });
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError(`${this.ref.registry} token endpoint answered ${res.status} for scope ${scope}`, res.status);
    }
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(`${this.ref.registry} token endpoint returned no token`, 401);
    return token;
  }

  /** The manifest (or index) a tag or digest names; undefined when the registry has none. */
  async getManifest(reference: string): Promise<Manifest | undefined> {
    const res = await this.request(`/manifests/${reference}`, { accept: ACCEPT_ANY }, 'pull');
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError(`GET manifest ${this.ref.repository}:${reference} → ${res.status}`, res.status);
    }
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = res.headers.get('docker-content-digest') ?? `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const json = JSON.parse(bytes.toString('utf8')) as Manifest['json'];
    const mediaType = json.mediaType ?? res.headers.get('content-type') ?? '';
    return { digest, mediaType, bytes, json };
  }

  /** Every tag of the repository (following pagination); empty when it does not exist yet. */
  async listTags(): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = '/tags/list?n=1000';
    while (path) {
      const res = await this.request(path, { accept: 'application/json' }, 'pull');
      if (res.status === 404) {
        await res.body?.cancel();
        return tags;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new RegistryError(`GET tags of ${this.ref.repository} → ${res.status}`, res.status);
      }
      const body = (await res.json()) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      // Link: </v2/<name>/tags/list?last=x&n=1000>; rel="next"
      const next = /<[^>]*\/tags\/list(\?[^>]*)>;\s*rel="next"/.exec(res.headers.get('link') ?? '');
      path = next ? `/tags/list${next[1]}` : undefined;
    }
    return tags;
  }

  /** Points `tag` at exactly the bytes of `manifest`, so the tag's digest equals the source's. */
  async putManifest(tag: string, manifest: Manifest): Promise<string> {
    const res = await this.request(`/manifests/${tag}`, { method: 'PUT', body: manifest.bytes, contentType: manifest.mediaType }, 'pull,push');
    await res.body?.cancel();
    if (!res.ok) throw new RegistryError(`PUT manifest ${this.ref.repository}:${tag} → ${res.status}`, res.status);
    return res.headers.get('docker-content-digest') ?? manifest.digest;
  }

  async getConfigLabels(manifestDigest: string): Promise<Record<string, string>> {
    const manifest = await this.getManifest(manifestDigest);
    const configDigest = manifest?.json.config?.digest;
    if (!configDigest) return {};
    const res = await this.request(`/blobs/${configDigest}`, {}, 'pull');
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError(`GET config blob ${configDigest} → ${res.status}`, res.status);
    }
    const config = (await res.json()) as { config?: { Labels?: Record<string, string> | null } };
    return config.config?.Labels ?? {};
  }

  /**
   * A blob (e.g. an image layer) as a response whose body the caller streams; the caller checks the
   * bytes against the digest. Layers can be gigabytes, so the one-minute default would cut them off.
   */
  async getBlob(digest: string, opts: { timeoutMs?: number } = {}): Promise<Response & { body: ReadableStream<Uint8Array> }> {
    const res = await this.request(`/blobs/${digest}`, { timeoutMs: opts.timeoutMs ?? 30 * 60_000 }, 'pull');
    if (res.status === 404) {
      await res.body?.cancel();
      throw new RegistryError(`blob ${digest} of ${this.ref.repository} is not in the registry (404)`, 404);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new RegistryError(`GET blob ${digest} of ${this.ref.repository} → ${res.status}`, res.ok ? 0 : res.status);
    }
    return res as Response & { body: ReadableStream<Uint8Array> };
  }
}

export function platformOf(entry: { platform?: { os: string; architecture: string; variant?: string } }): string {
  const p = entry.platform;
  if (!p) return 'unknown';
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** The registry a release's images go to, with the worker's credentials. */
export function registryFor(images: TagshipConfig['images'], auth?: Credentials, signal?: AbortSignal): RegistryClient {
  return new RegistryClient(parseImageRepository(images.repository), { insecure: images.insecure, ...(auth ? { auth } : {}), ...(signal ? { signal } : {}) });
}

/** Runs registry calls in an activity: failures the registry may recover from retry, refusals do not. */
export async function withRegistryFailures<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RegistryError) {
      throw err.retryable ? failure('RegistryError', err.message) : failure('RegistryRefused', err.message);
    }
    throw err;
  }
}
