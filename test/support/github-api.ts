// The part of GitHub's REST API a release's GitHub Release uses, answering as GitHub does: release
// objects with `upload_url` templates, assets with `digest`, token auth with "Bad credentials",
// 404 for repositories it does not know, and 422 `already_exists` for a second release of a tag or
// an asset name uploaded again without deleting the old one. It keeps the uploaded bytes and
// records every request so tests can count creations and uploads.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface StoredAsset {
  readonly id: number;
  readonly name: string;
  readonly label: string | null;
  readonly contentType: string;
  readonly bytes: Buffer;
  readonly digest: string;
  readonly createdAt: string;
}

export interface StoredRelease {
  readonly id: number;
  readonly repository: string;
  tag_name: string;
  target_commitish: string;
  name: string | null;
  body: string | null;
  draft: boolean;
  prerelease: boolean;
  /** The last `make_latest` the release was created or updated with (GitHub does not echo it). */
  make_latest: string | undefined;
  readonly created_at: string;
  assets: StoredAsset[];
}

export interface RecordedRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: string;
  readonly status: number;
  readonly userAgent: string | undefined;
}

export interface GitHubApi {
  /** Base URL to use as `api_url` (no trailing slash, like https://api.github.com). */
  readonly url: string;
  readonly releases: StoredRelease[];
  readonly requests: RecordedRequest[];
  /** Which release each repository marks as "Latest", by id. */
  readonly latest: Map<string, number>;
  /** Answer this many of the next asset uploads with a 502 after reading them (GitHub's upload host does this under load). */
  failUploads: number;
  close(): Promise<void>;
}

export interface GitHubApiOptions {
  /** The one token it accepts. */
  readonly token: string;
  /** "owner/name" of every repository it knows; others are 404 as on GitHub. */
  readonly repositories: readonly string[];
  /** Whether the token's user may push, as GitHub's repository answer says it (`permissions.push`); default true. */
  readonly push?: boolean;
  /** A classic token's scopes, sent as GitHub does in X-OAuth-Scopes on every answer to it; unset: a fine-grained token, which gets no such header. */
  readonly scopes?: readonly string[];
}

const DOCS = 'https://docs.github.com/rest';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message));
  }
}

const notFound = (doc = DOCS) => new HttpError(404, { message: 'Not Found', documentation_url: doc, status: '404' });
const validationFailed = (doc: string, errors: Record<string, unknown>[]) =>
  new HttpError(422, { message: 'Validation Failed', errors, documentation_url: doc, status: '422' });

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function jsonBody(raw: Buffer): Record<string, unknown> {
  if (raw.length === 0) return {};
  try {
    const v = JSON.parse(raw.toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through to GitHub's answer for a body that is not a JSON object
  }
  throw new HttpError(400, { message: 'Problems parsing JSON', documentation_url: DOCS, status: '400' });
}

export async function startGitHubApi(opts: GitHubApiOptions): Promise<GitHubApi> {
  const repositories = new Set(opts.repositories.map((r) => r.toLowerCase()));
  // GitHub finds a repository whatever the case of its name and answers with its own spelling.
  const spelling = new Map(opts.repositories.map((r) => [r.toLowerCase(), r]));
  const releases: StoredRelease[] = [];
  const requests: RecordedRequest[] = [];
  const latest = new Map<string, number>();
  let nextId = 1;
  let base = '';
  const faults = { failUploads: 0 };

  const authorized = (req: IncomingMessage) => {
    const m = /^(?:bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    return m?.[1] === opts.token;
  };

  const assetJson = (r: StoredRelease, a: StoredAsset) => ({
    url: `${base}/repos/${r.repository}/releases/assets/${a.id}`,
    id: a.id,
    node_id: `RA_${a.id}`,
    name: a.name,
    label: a.label,
    uploader: { login: 'tagship-bot', id: 1, type: 'Bot' },
    content_type: a.contentType,
    state: 'uploaded',
    size: a.bytes.length,
    digest: a.digest,
    download_count: 0,
    created_at: a.createdAt,
    updated_at: a.createdAt,
    browser_download_url: `${base}/${r.repository}/releases/download/${encodeURIComponent(r.tag_name)}/${encodeURIComponent(a.name)}`,
  });

  const releaseJson = (r: StoredRelease) => ({
    url: `${base}/repos/${r.repository}/releases/${r.id}`,
    assets_url: `${base}/repos/${r.repository}/releases/${r.id}/assets`,
    upload_url: `${base}/repos/${r.repository}/releases/${r.id}/assets{?name,label}`,
    html_url: `${base}/${r.repository}/releases/tag/${encodeURIComponent(r.tag_name)}`,
    id: r.id,
    node_id: `RE_${r.id}`,
    author: { login: 'tagship-bot', id: 1, type: 'Bot' },
    tag_name: r.tag_name,
    target_commitish: r.target_commitish,
    name: r.name,
    draft: r.draft,
    prerelease: r.prerelease,
    immutable: false,
    created_at: r.created_at,
    published_at: r.draft ? null : r.created_at,
    assets: r.assets.map((a) => assetJson(r, a)),
    tarball_url: `${base}/repos/${r.repository}/tarball/${encodeURIComponent(r.tag_name)}`,
    zipball_url: `${base}/repos/${r.repository}/zipball/${encodeURIComponent(r.tag_name)}`,
    body: r.body,
  });

  const releaseById = (repository: string, id: string) => {
    const r = releases.find((x) => x.repository === repository && String(x.id) === id);
    if (!r) throw notFound(`${DOCS}/releases/releases#get-a-release`);
    return r;
  };

  const makeLatestOf = (body: Record<string, unknown>, doc: string): string | undefined => {
    const v = body.make_latest;
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false' && v !== 'legacy') {
      throw validationFailed(doc, [{ resource: 'Release', code: 'invalid', field: 'make_latest' }]);
    }
    return v;
  };

  const applyLatest = (r: StoredRelease) => {
    if (r.make_latest === 'true' && !r.draft && !r.prerelease) latest.set(r.repository, r.id);
  };

  async function handle(req: IncomingMessage, url: URL): Promise<{ status: number; body?: unknown }> {
    const method = req.method ?? 'GET';
    const path = url.pathname;

    // Public downloads, as from github.com.
    const download = /^\/([^/]+\/[^/]+)\/releases\/download\/([^/]+)\/([^/]+)$/.exec(path);
    if (download && method === 'GET') {
      const r = releases.find((x) => x.repository === download[1]!.toLowerCase() && x.tag_name === decodeURIComponent(download[2]!));
      const a = r?.assets.find((x) => x.name === decodeURIComponent(download[3]!));
      if (!a) throw notFound();
      return { status: 200, body: a.bytes };
    }

    if (!authorized(req)) throw new HttpError(401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' });

    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) throw notFound();
    const repository = `${m[1]}/${m[2]}`.toLowerCase();
    if (!repositories.has(repository)) throw notFound(`${DOCS}/repos/repos#get-a-repository`);
    const rest = m[3] ?? '';
    let r: RegExpExecArray | null;

    if (rest === '' && method === 'GET') {
      // Get a repository: `permissions` is there for an authenticated caller, and says the user's role.
      const full = spelling.get(repository)!;
      const [owner, name] = full.split('/');
      const push = opts.push ?? true;
      return {
        status: 200,
        body: {
          id: 1296269,
          node_id: 'R_1',
          name,
          full_name: full,
          owner: { login: owner, id: 2, type: 'Organization' },
          private: false,
          visibility: 'public',
          html_url: `${base}/${full}`,
          url: `${base}/repos/${full}`,
          default_branch: 'main',
          permissions: { admin: false, maintain: false, push, triage: push, pull: true },
        },
      };
    }

    if ((r = /^\/releases\/tags\/(.+)$/.exec(rest)) && method === 'GET') {
      const tag = decodeURIComponent(r[1]!);
      // Drafts are not found by tag, as on GitHub.
      const found = releases.find((x) => x.repository === repository && x.tag_name === tag && !x.draft);
      if (!found) throw notFound(`${DOCS}/releases/releases#get-a-release-by-tag-name`);
      return { status: 200, body: releaseJson(found) };
    }

    if (rest === '/releases' && method === 'POST') {
      const doc = `${DOCS}/releases/releases#create-a-release`;
      const body = jsonBody(await readBody(req));
      if (typeof body.tag_name !== 'string' || body.tag_name === '') {
        throw validationFailed(doc, [{ resource: 'Release', code: 'missing_field', field: 'tag_name' }]);
      }
      const make_latest = makeLatestOf(body, doc);
      if (releases.some((x) => x.repository === repository && x.tag_name === body.tag_name)) {
        throw validationFailed(doc, [{ resource: 'Release', code: 'already_exists', field: 'tag_name' }]);
      }
      const created: StoredRelease = {
        id: nextId++,
        repository,
        tag_name: body.tag_name,
        target_commitish: typeof body.target_commitish === 'string' ? body.target_commitish : 'main',
        name: typeof body.name === 'string' ? body.name : null,
        body: typeof body.body === 'string' ? body.body : null,
        draft: body.draft === true,
        prerelease: body.prerelease === true,
        make_latest,
        created_at: new Date().toISOString(),
        assets: [],
      };
      releases.push(created);
      applyLatest(created);
      return { status: 201, body: releaseJson(created) };
    }

    if ((r = /^\/releases\/(\d+)$/.exec(rest))) {
      const release = releaseById(repository, r[1]!);
      if (method === 'GET') return { status: 200, body: releaseJson(release) };
      if (method === 'PATCH') {
        const doc = `${DOCS}/releases/releases#update-a-release`;
        const body = jsonBody(await readBody(req));
        const make_latest = makeLatestOf(body, doc);
        if (
          typeof body.tag_name === 'string' &&
          body.tag_name !== release.tag_name &&
          releases.some((x) => x.repository === repository && x.tag_name === body.tag_name)
        ) {
          throw validationFailed(doc, [{ resource: 'Release', code: 'already_exists', field: 'tag_name' }]);
        }
        if (typeof body.tag_name === 'string') release.tag_name = body.tag_name;
        if (typeof body.target_commitish === 'string') release.target_commitish = body.target_commitish;
        if (typeof body.name === 'string') release.name = body.name;
        if (typeof body.body === 'string') release.body = body.body;
        if (typeof body.draft === 'boolean') release.draft = body.draft;
        if (typeof body.prerelease === 'boolean') release.prerelease = body.prerelease;
        if (make_latest !== undefined) release.make_latest = make_latest;
        applyLatest(release);
        return { status: 200, body: releaseJson(release) };
      }
    }

    if ((r = /^\/releases\/(\d+)\/assets$/.exec(rest))) {
      const release = releaseById(repository, r[1]!);
      if (method === 'GET') {
        const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30) || 30, 100);
        const page = Math.max(Number(url.searchParams.get('page') ?? 1) || 1, 1);
        return { status: 200, body: release.assets.slice((page - 1) * perPage, page * perPage).map((a) => assetJson(release, a)) };
      }
      if (method === 'POST') {
        const doc = `${DOCS}/releases/assets#upload-a-release-asset`;
        const name = url.searchParams.get('name');
        if (!name) throw validationFailed(doc, [{ resource: 'ReleaseAsset', code: 'missing_field', field: 'name' }]);
        const contentType = req.headers['content-type'];
        if (!contentType) throw new HttpError(400, { message: 'Bad Content-Type header value', documentation_url: doc, status: '400' });
        const bytes = await readBody(req);
        if (bytes.length === 0)
          throw validationFailed(doc, [{ resource: 'ReleaseAsset', code: 'custom', field: 'size', message: 'size must be greater than 0' }]);
        if (release.assets.some((a) => a.name === name)) {
          throw validationFailed(doc, [{ resource: 'ReleaseAsset', code: 'already_exists', field: 'name' }]);
        }
        if (faults.failUploads > 0) {
          faults.failUploads--;
          throw new HttpError(502, { message: 'Bad Gateway' });
        }
        const asset: StoredAsset = {
          id: nextId++,
          name,
          label: url.searchParams.get('label'),
          contentType,
          bytes,
          digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
          createdAt: new Date().toISOString(),
        };
        release.assets.push(asset);
        return { status: 201, body: assetJson(release, asset) };
      }
    }

    if ((r = /^\/releases\/assets\/(\d+)$/.exec(rest))) {
      const owner = releases.find((x) => x.repository === repository && x.assets.some((a) => String(a.id) === r![1]));
      if (!owner) throw notFound(`${DOCS}/releases/assets#get-a-release-asset`);
      const asset = owner.assets.find((a) => String(a.id) === r![1])!;
      if (method === 'GET') return { status: 200, body: assetJson(owner, asset) };
      if (method === 'DELETE') {
        owner.assets = owner.assets.filter((a) => a !== asset);
        return { status: 204 };
      }
    }

    throw notFound();
  }

  const send = (res: ServerResponse, status: number, body: unknown) => {
    if (status === 204 || body === undefined) return void res.writeHead(status).end();
    if (Buffer.isBuffer(body)) {
      res.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      return void res.end(body);
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-request-id': `TAGSHIP:${requests.length}` });
    res.end(text);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (opts.scopes && authorized(req)) res.setHeader('x-oauth-scopes', opts.scopes.join(', '));
    const record = (status: number) =>
      requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.search, status, userAgent: req.headers['user-agent'] });
    handle(req, url).then(
      ({ status, body }) => {
        record(status);
        send(res, status, body);
      },
      (err: unknown) => {
        // Drain what the client sent so it sees the answer rather than a reset.
        req.resume();
        const e = err instanceof HttpError ? err : new HttpError(500, { message: `double failed: ${(err as Error).message}` });
        record(e.status);
        send(res, e.status, e.body);
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: base,
    releases,
    requests,
    latest,
    get failUploads() {
      return faults.failUploads;
    },
    set failUploads(n: number) {
      faults.failUploads = n;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
