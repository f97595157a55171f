// Reads a project's file list from a PyPI Simple API (PEP 503 HTML or PEP 691 JSON): what pip and
// uv read, so "listed here" is exactly "installable by the image build".
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { normalizeProjectName } from '../../src/contract/version';
import { sha256File } from './artifact-store';
import { failure } from '../../src/contract/failures';

export interface IndexFile {
  readonly filename: string;
  readonly sha256?: string;
  /** Where the file downloads from, resolved against the project page (when a base was given). */
  readonly url?: string;
}

function resolveUrl(href: string, base: string | undefined): { url: string } | Record<string, never> {
  if (base === undefined || !URL.canParse(href, base)) return {};
  const u = new URL(href, base);
  u.hash = '';
  return { url: u.toString() };
}

export class IndexHttpError extends Error {
  override name = 'IndexHttpError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status === 408 || this.status >= 500;
  }
}

export function projectUrl(simpleUrl: string, project: string): string {
  const base = simpleUrl.endsWith('/') ? simpleUrl : `${simpleUrl}/`;
  return new URL(`${normalizeProjectName(project)}/`, base).toString();
}

const ANCHOR_RE = /<a\s[^>]*href="([^"]+)"[^>]*>([^<]*)<\/a>/gi;

function decodeEntities(s: string): string {
  return s
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
}

export function parseSimpleHtml(html: string, base?: string): IndexFile[] {
  const files: IndexFile[] = [];
  for (const m of html.matchAll(ANCHOR_RE)) {
    const href = decodeEntities(m[1]!);
    const hash = /#sha256=([0-9a-f]{64})/i.exec(href)?.[1]?.toLowerCase();
    const path = href.split('#')[0]!.split('?')[0]!;
    const filename = decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)) || decodeEntities(m[2]!.trim());
    files.push({ filename, ...(hash ? { sha256: hash } : {}), ...resolveUrl(href, base) });
  }
  return files;
}

interface Pep691 {
  files?: { filename?: unknown; url?: unknown; hashes?: { sha256?: unknown } }[];
}

export function parseSimpleJson(body: Pep691, base?: string): IndexFile[] {
  return (body.files ?? []).flatMap((f) =>
    typeof f.filename === 'string'
      ? [
          {
            filename: f.filename,
            ...(typeof f.hashes?.sha256 === 'string' ? { sha256: f.hashes.sha256.toLowerCase() } : {}),
            ...(typeof f.url === 'string' ? resolveUrl(f.url, base) : {}),
          },
        ]
      : [],
  );
}

/** The files the index lists for `project`; an unknown project lists none. */
export async function listProjectFiles(simpleUrl: string, project: string, signal?: AbortSignal): Promise<IndexFile[]> {
  const url = projectUrl(simpleUrl, project);
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: 'application/vnd.pypi.simple.v1+json, text/html;q=0.5' },
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(30_000)]) : AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new IndexHttpError(`cannot reach ${url}: ${(err as Error).message}`, 0);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return [];
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new IndexHttpError(`${url} answered HTTP ${res.status}`, res.status);
  }
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json')) return parseSimpleJson((await res.json()) as Pep691, url);
  return parseSimpleHtml(await res.text(), url);
}

/**
 * Downloads a listed file to `dest`, checked against the sha256 the index lists. Fails with an
 * IndexHttpError (retryable unless the index refuses for good) or a plain Error on a hash mismatch.
 */
export async function downloadIndexFile(file: IndexFile, dest: string, signal: AbortSignal): Promise<void> {
  if (!file.url) throw new IndexHttpError(`the index lists ${file.filename} without a download URL`, 400);
  let res: Response;
  try {
    res = await fetch(file.url, { signal: AbortSignal.any([signal, AbortSignal.timeout(300_000)]) });
  } catch (err) {
    throw new IndexHttpError(`cannot download ${file.filename} from ${file.url}: ${(err as Error).message}`, 0);
  }
  if (!res.ok || !res.body) throw new IndexHttpError(`downloading ${file.filename} from the index answered HTTP ${res.status}`, res.status);
  const partial = `${dest}.partial`;
  try {
    try {
      await pipeline(Readable.fromWeb(res.body), createWriteStream(partial));
    } catch (err) {
      // A connection lost mid-download is worth another attempt; only a wrong hash is final.
      throw new IndexHttpError(`downloading ${file.filename} from the index broke off: ${(err as Error).message}`, 0);
    }
    const actual = await sha256File(partial);
    if (file.sha256 !== undefined && actual !== file.sha256)
      throw new Error(`${file.filename} from the index hashes to ${actual}, but the index lists ${file.sha256}`);
    await rename(partial, dest);
  } finally {
    await rm(partial, { force: true });
  }
}

/**
 * listProjectFiles for a release step: an index that refuses for good (401, 403, 404 of the index
 * itself, …) is a non-retryable `IndexRefused`; everything else is left to the step's retries.
 */
export async function listProjectFilesForStep(simpleUrl: string, project: string): Promise<IndexFile[]> {
  try {
    return await listProjectFiles(simpleUrl, project);
  } catch (err) {
    if (err instanceof IndexHttpError && !err.retryable) throw failure('IndexRefused', err.message);
    throw err;
  }
}
