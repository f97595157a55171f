// Proves what a pushed image contains by reading its layers straight from the registry, with no
// container engine: every released package is installed from the published wheel's own files, and
// compiled code under site-packages is built for the platform the image claims to be.
//
// Layers are streamed (a layer can be gigabytes) and reduced to a small per-layer scan: hashes of
// the files under site-packages/dist-packages plus whatever can delete or hide them in lower layers
// (whiteouts, opaque dirs, non-directories replacing directories). Scans are content-addressed by
// layer digest, so a worker's cache of them is valid forever and base layers are read once.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import yauzl from 'yauzl';
import type { VerifiedPackage, VerifiedPlatform } from '../../src/contract/release';
import { compareVersions, normalizeProjectName, parseVersion } from '../../src/contract/version';
import { platformOf, RegistryError, type LayerDescriptor, type Manifest, type RegistryClient } from './registry-client';
import { coreMetadataFields } from './dist-metadata';
import { failure } from '../../src/contract/failures';

export interface PublishedWheel {
  readonly filename: string;
  readonly sha256: string;
  /** local path of the wheel's bytes (hash already checked by the caller) */
  readonly path: string;
}

export interface ExpectedPackage {
  readonly name: string;
  readonly version: string;
  readonly wheels: readonly PublishedWheel[];
}

export interface VerifyImageOptions {
  readonly client: RegistryClient;
  /** The pushed multi-platform index (client.getManifest(tag)). */
  readonly index: Manifest;
  readonly platforms: readonly string[];
  readonly packages: readonly ExpectedPackage[];
  /** Per-worker cache of per-layer scans, keyed by layer digest. */
  readonly cacheDir?: string;
  readonly signal?: AbortSignal;
  readonly heartbeat?: (detail: string) => void;
}

// ---------------------------------------------------------------------------------------------
// One layer's scan

export interface ScannedFile {
  /** sha256 of the bytes, hex. */
  readonly sha256: string;
  readonly size: number;
  /** [e_machine, EI_DATA] of an ELF file: EI_DATA 1 is little-endian, 2 big-endian. */
  readonly elf?: readonly [number, number];
  /** Name and Version of a `<root>/*.dist-info/METADATA` file. */
  readonly metadata?: { readonly name?: string; readonly version?: string };
}

export interface LayerScan {
  readonly format: typeof SCAN_FORMAT;
  /** Regular files (and hard links resolved within the layer) under a site-packages root. */
  readonly files: Record<string, ScannedFile>;
  readonly symlinks: Record<string, string>;
  /** Hard links under a root whose target is not in this layer: resolved against the lower ones. */
  readonly hardlinks: Record<string, string>;
  /** Directories under a root: a directory hides a lower file at the same path. */
  readonly dirs: string[];
  /** Every other non-directory entry: it hides a lower directory (and so its files) at its path. */
  readonly replaced: string[];
  /** Paths deleted by `.wh.<name>` entries. */
  readonly whiteouts: string[];
  /** Directories marked `.wh..wh..opq`: their lower contents are gone. */
  readonly opaques: string[];
}

const SCAN_FORMAT = 1;
const SITE_DIRS = new Set(['site-packages', 'dist-packages']);
const METADATA_HEAD_BYTES = 16 * 1024;
const PROGRESS_EVERY = 64 * 1024 * 1024;

/** The site-packages root a path lies strictly below, and the path inside it. */
export function siteRoot(path: string): { root: string; rel: string } | undefined {
  const parts = path.split('/');
  // The outermost one: a package may vendor its own "site-packages" directory, which is not a root.
  const i = parts.findIndex((p) => SITE_DIRS.has(p));
  if (i < 0 || i === parts.length - 1) return undefined;
  return { root: parts.slice(0, i + 1).join('/'), rel: parts.slice(i + 1).join('/') };
}

/** Tar names come as "./usr/lib", "usr/lib/" or "/usr/lib"; the view keys them as "usr/lib". */
function normalizeTarPath(name: string): string {
  const p = posix.normalize(`/${name}`);
  return p === '/' ? '' : p.replace(/^\/+/, '').replace(/\/+$/, '');
}

async function readTarFile(entry: AsyncIterable<Buffer>, wantMetadata: boolean): Promise<ScannedFile> {
  const hash = createHash('sha256');
  let size = 0;
  let head = Buffer.alloc(0);
  const want = wantMetadata ? METADATA_HEAD_BYTES : 20;
  for await (const chunk of entry) {
    hash.update(chunk);
    size += chunk.length;
    if (head.length < want) head = Buffer.concat([head, chunk.subarray(0, want - head.length)]);
  }
  const file: { sha256: string; size: number; elf?: [number, number]; metadata?: { name?: string; version?: string } } = { sha256: hash.digest('hex'), size };
  if (head.length >= 20 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46) {
    const data = head[5]!;
    file.elf = [data === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18), data];
  }
  if (wantMetadata) file.metadata = coreMetadataFields(head.toString('utf8'));
  return file;
}

export class UnsupportedLayerError extends Error {
  override name = 'UnsupportedLayerError';
}

function decompressorFor(mediaType: string): Transform | undefined {
  if (/(^|\.)tar$/.test(mediaType)) return undefined;
  if (/tar[+.]gzip$/.test(mediaType)) return zlib.createGunzip();
  if (/tar\+zstd$/.test(mediaType)) {
    // zstd arrived in node:zlib with Node 22.15; the typings of older Nodes do not know it.
    const zstd = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
    if (typeof zstd === 'function') return zstd();
    throw new UnsupportedLayerError(
      `is zstd-compressed (${mediaType}), which this worker's Node ${process.version} cannot decompress (Node ≥ 22.15 can); push the image with gzip layers or upgrade the worker's Node`,
    );
  }
  throw new UnsupportedLayerError(`has media type ${mediaType || '(none)'}, which is not a tar layer tagship can read (tar, tar+gzip, tar+zstd)`);
}

/**
 * Reads one layer blob (compressed as its media type says) and returns its scan. The bytes are
 * hashed as they stream and compared with `digest`, so a corrupt download is never cached.
 */
export async function scanLayer(
  bytes: Readable,
  mediaType: string,
  opts: { digest?: string; signal?: AbortSignal; onProgress?: (bytesRead: number) => void; idleTimeoutMs?: number } = {},
): Promise<LayerScan> {
  const scan: LayerScan = { format: SCAN_FORMAT, files: {}, symlinks: {}, hardlinks: {}, dirs: [], replaced: [], whiteouts: [], opaques: [] };
  const decompress = decompressorFor(mediaType);
  const algorithm = opts.digest?.split(':')[0];
  const digestHash = algorithm === 'sha256' || algorithm === 'sha512' ? createHash(algorithm) : undefined;
  let read = 0;
  let reported = 0;
  // A transfer that stops without closing its connection would otherwise hold the step until its
  // start-to-close timeout; a stalled layer is a network failure, retried like one.
  let lastChunk = Date.now();
  const idleMs = opts.idleTimeoutMs ?? 120_000;
  const watchdog = setInterval(
    () => {
      if (Date.now() - lastChunk > idleMs) bytes.destroy(new Error(`no data for ${Math.round(idleMs / 1000)} s`));
    },
    Math.min(5_000, idleMs),
  );
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      lastChunk = Date.now();
      digestHash?.update(chunk);
      read += chunk.length;
      if (opts.onProgress && read - reported >= PROGRESS_EVERY) {
        reported = read;
        opts.onProgress(read);
      }
      cb(null, chunk);
    },
  });
  let sourceError: Error | undefined;
  bytes.once('error', (err) => {
    sourceError = err;
  });
  const extract = tar.extract();
  // Hard links may point outside site-packages (uv links installed files to its cache), so every
  // regular file of the layer is hashed; only the ones that matter are kept in the scan.
  const layerFiles = new Map<string, ScannedFile>();
  const collect = async () => {
    try {
      for await (const entry of extract) {
        const h = entry.header;
        const path = normalizeTarPath(h.name);
        const base = posix.basename(path);
        const dir = posix.dirname(path) === '.' ? '' : posix.dirname(path);
        const site = siteRoot(path);
        if (path === '') {
          entry.resume();
        } else if (base.startsWith('.wh.')) {
          if (base === '.wh..wh..opq') scan.opaques.push(dir);
          // Other ".wh..wh." names are aufs bookkeeping, not deletions.
          else if (!base.startsWith('.wh..wh.')) scan.whiteouts.push(dir ? `${dir}/${base.slice(4)}` : base.slice(4));
          entry.resume();
        } else if (h.type === 'file' || h.type === 'contiguous-file') {
          const isMetadata = !!site && /^[^/]+\.dist-info\/METADATA$/.test(site.rel);
          const file = await readTarFile(entry as unknown as AsyncIterable<Buffer>, isMetadata);
          layerFiles.set(path, file);
          if (site) scan.files[path] = file;
          else scan.replaced.push(path);
        } else if (h.type === 'link') {
          entry.resume();
          const target = normalizeTarPath(h.linkname ?? '');
          const file = layerFiles.get(target);
          if (file) layerFiles.set(path, file);
          if (!site) scan.replaced.push(path);
          else if (file) scan.files[path] = file;
          else scan.hardlinks[path] = target;
        } else if (h.type === 'symlink') {
          entry.resume();
          if (site) scan.symlinks[path] = h.linkname ?? '';
          else scan.replaced.push(path);
        } else if (h.type === 'directory') {
          entry.resume();
          if (site) scan.dirs.push(path);
        } else {
          entry.resume();
          scan.replaced.push(path);
        }
      }
    } catch (err) {
      extract.destroy(err as Error);
      throw err;
    }
  };
  const [piped, collected] = await Promise.allSettled([
    pipeline([bytes, tap, ...(decompress ? [decompress] : []), extract], opts.signal ? { signal: opts.signal } : {}),
    collect(),
  ]).finally(() => clearInterval(watchdog));
  if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
  if (sourceError) throw new RegistryError(`reading layer ${opts.digest ?? ''} failed: ${sourceError.message}`, 0);
  const broken = piped.status === 'rejected' ? piped.reason : collected.status === 'rejected' ? collected.reason : undefined;
  if (broken) {
    throw failure('ImageLayerUnreadable', `layer ${opts.digest ?? ''} (${mediaType}) is not a readable tar: ${(broken as Error).message}`);
  }
  if (digestHash && opts.digest) {
    const got = `${algorithm}:${digestHash.digest('hex')}`;
    // A truncated or altered download: another attempt may get the right bytes.
    if (got !== opts.digest) throw new RegistryError(`layer ${opts.digest} downloaded as ${got} (${read} bytes): corrupt or incomplete transfer`, 0);
  }
  return scan;
}

// ---------------------------------------------------------------------------------------------
// The merged view of a platform's layers

export type ViewNode =
  | { readonly kind: 'file'; readonly file: ScannedFile }
  | { readonly kind: 'symlink'; readonly target: string }
  /** A hard link to a file tagship could not see (not in its layer or any lower one). */
  | { readonly kind: 'unresolved'; readonly target: string };

/** The final filesystem under every site-packages root, after applying the layers in order. */
export function mergeLayers(scans: readonly LayerScan[]): Map<string, ViewNode> {
  const view = new Map<string, ViewNode>();
  for (const layer of scans) {
    // Hard links name lower files as they were before this layer changed anything.
    const linked = new Map<string, ViewNode>();
    for (const [path, target] of Object.entries(layer.hardlinks)) {
      const node = view.get(target);
      linked.set(path, node ?? { kind: 'unresolved', target });
    }
    const whiteouts = new Set(layer.whiteouts);
    const opaques = new Set(layer.opaques);
    const dirs = new Set(layer.dirs);
    const nonDirs = new Set([...layer.replaced, ...Object.keys(layer.files), ...Object.keys(layer.symlinks), ...Object.keys(layer.hardlinks)]);
    const replacedHere = new Set(layer.replaced);
    for (const key of [...view.keys()]) {
      let gone = whiteouts.has(key) || dirs.has(key) || replacedHere.has(key);
      for (let i = key.lastIndexOf('/'); !gone && i > 0; i = key.lastIndexOf('/', i - 1)) {
        const ancestor = key.slice(0, i);
        gone = whiteouts.has(ancestor) || opaques.has(ancestor) || nonDirs.has(ancestor);
      }
      if (gone) view.delete(key);
    }
    for (const [path, file] of Object.entries(layer.files)) view.set(path, { kind: 'file', file });
    for (const [path, target] of Object.entries(layer.symlinks)) view.set(path, { kind: 'symlink', target });
    for (const [path, node] of linked) view.set(path, node);
  }
  return view;
}

/** Follows symlinks through the view (which only knows site-packages paths). */
function resolve(view: ReadonlyMap<string, ViewNode>, path: string): ViewNode | undefined {
  let current = path;
  let node = view.get(current);
  for (let hops = 0; node?.kind === 'symlink' && hops < 16; hops++) {
    const target = node.target.startsWith('/') ? node.target : `${posix.dirname(current)}/${node.target}`;
    current = normalizeTarPath(target);
    node = view.get(current);
  }
  return node;
}

// ---------------------------------------------------------------------------------------------
// Published wheels

interface WheelRecord {
  readonly filename: string;
  /** Wheel-relative path → sha256 hex, for the files that install into the site-packages root. */
  readonly files: ReadonlyMap<string, string | undefined>;
}

function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  row.push(field);
  if (row.some((f) => f !== '')) rows.push(row);
  return rows;
}

async function readStream(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      stream.destroy();
      throw new Error(`${what} is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function readWheelRecord(wheel: PublishedWheel): Promise<WheelRecord> {
  const zip = await yauzl.openPromise(wheel.path, { autoClose: false });
  try {
    const entries: yauzl.Entry[] = [];
    for await (const entry of zip.eachEntry()) entries.push(entry);
    const prefix = wheel.filename.split('-').slice(0, 2).join('-').toLowerCase();
    const records = entries.filter((e) => /^[^/]+\.dist-info\/RECORD$/.test(e.fileName));
    const record = records.find((e) => e.fileName.toLowerCase().startsWith(`${prefix}.dist-info/`)) ?? records[0];
    if (!record) throw failure('ImageContentMismatch', `published wheel ${wheel.filename} has no .dist-info/RECORD`);
    const text = (await readStream(await zip.openReadStreamPromise(record), 64 * 1024 * 1024, `${wheel.filename} RECORD`)).toString('utf8');
    const files = new Map<string, string | undefined>();
    // RECORD may use a stronger hash than sha256; those entries are hashed from the wheel itself.
    const rehash = new Set<string>();
    for (const [path, hash] of parseCsv(text)) {
      if (!path) continue;
      const top = path.split('/')[0]!;
      if (top.endsWith('.dist-info') || top.endsWith('.data') || path.split('/').includes('..')) continue;
      const m = /^([a-z0-9]+)=([A-Za-z0-9_-]*)=*$/.exec(hash ?? '');
      if (m?.[1] === 'sha256') files.set(path, Buffer.from(m[2]!, 'base64url').toString('hex'));
      else if (m) rehash.add(path);
      else files.set(path, undefined);
    }
    for (const entry of entries.filter((e) => rehash.has(e.fileName))) {
      const hash = createHash('sha256');
      for await (const chunk of (await zip.openReadStreamPromise(entry)) as AsyncIterable<Buffer>) hash.update(chunk);
      files.set(entry.fileName, hash.digest('hex'));
    }
    return { filename: wheel.filename, files };
  } finally {
    zip.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Verification

const MACHINE_OF_ARCH: Readonly<Record<string, number>> = {
  amd64: 62,
  arm64: 183,
  arm: 40,
  '386': 3,
  ppc64le: 21,
  s390x: 22,
  riscv64: 243,
  mips64le: 8,
  loong64: 258,
};
const MACHINE_NAMES: Readonly<Record<number, string>> = {
  3: 'x86 (i386)',
  8: 'mips',
  20: 'ppc',
  21: 'ppc64',
  22: 's390x',
  40: 'arm',
  62: 'x86-64',
  183: 'aarch64',
  243: 'riscv',
  258: 'loongarch',
};

function machineName(machine: number, data: number): string {
  const name = MACHINE_NAMES[machine] ?? `e_machine ${machine}`;
  return machine === 21 ? `${name} ${data === 2 ? 'big' : 'little'}-endian` : name;
}

/** "linux/arm64/v8" is what some builders write for plain "linux/arm64". */
function samePlatform(a: string, b: string): boolean {
  const norm = (p: string) => p.replace(/^(\w+\/arm64)\/v8$/, '$1');
  return norm(a) === norm(b);
}

function sameVersion(a: string, b: string): boolean {
  if (a === b) return true;
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  return !!pa && !!pb && compareVersions(pa, pb) === 0;
}

/** The dist-info directory name a wheel of `name` and `version` installs (binary distribution format). */
function distInfoName(name: string, version: string): string {
  return `${name.replace(/[-_.]+/g, '_').toLowerCase()}-${version}.dist-info`;
}

interface Installed {
  readonly root: string;
  readonly dir: string;
  readonly name: string;
  readonly version: string;
}

function installedDistributions(view: ReadonlyMap<string, ViewNode>): Installed[] {
  const found = new Map<string, Installed>();
  for (const [path, node] of view) {
    const site = siteRoot(path);
    const dir = site?.rel.split('/')[0];
    if (!site || !dir?.endsWith('.dist-info') || site.rel === dir) continue;
    const key = `${site.root}/${dir}`;
    const metadata = site.rel === `${dir}/METADATA` && node.kind === 'file' ? node.file.metadata : undefined;
    if (found.has(key) && !metadata) continue;
    // The directory name is "<escaped name>-<version>.dist-info"; METADATA is the authority when present.
    const stem = dir.slice(0, -'.dist-info'.length);
    const dash = stem.indexOf('-');
    const fromDir = { name: dash < 0 ? stem : stem.slice(0, dash), version: dash < 0 ? '' : stem.slice(dash + 1) };
    found.set(key, { root: site.root, dir, name: metadata?.name ?? fromDir.name, version: metadata?.version ?? fromDir.version });
  }
  return [...found.values()];
}

interface Difference {
  readonly path: string;
  readonly expected: string | undefined;
  readonly found: string;
}

function compareWithWheel(view: ReadonlyMap<string, ViewNode>, root: string, record: WheelRecord): Difference[] {
  const differences: Difference[] = [];
  for (const [path, expected] of record.files) {
    const node = resolve(view, `${root}/${path}`);
    if (!node) differences.push({ path, expected, found: 'missing' });
    else if (node.kind !== 'file')
      differences.push({ path, expected, found: node.kind === 'symlink' ? `a dangling symlink to ${node.target}` : `a hard link to unseen ${node.target}` });
    else if (expected !== undefined && node.file.sha256 !== expected) differences.push({ path, expected, found: `sha256 ${node.file.sha256}` });
  }
  return differences;
}

function describeDifferences(differences: readonly Difference[], wheel: string): string {
  const shown = differences.slice(0, 3).map((d) => `${d.path} is ${d.found} in the image, sha256 ${d.expected ?? '(no hash)'} in ${wheel}`);
  const more = differences.length > shown.length ? `; and ${differences.length - shown.length} more` : '';
  return `${shown.join('; ')}${more}`;
}

export class ImageScanCache {
  private readonly memory = new Map<string, LayerScan>();
  constructor(private readonly dir?: string) {}

  private file(digest: string): string | undefined {
    // The digest comes from a registry's manifest; only a well-formed one becomes a file name.
    const m = /^([a-z0-9]+):([a-f0-9]{32,128})$/.exec(digest);
    return this.dir && m ? join(this.dir, `layer-scans-v${SCAN_FORMAT}`, m[1]!, `${m[2]}.json`) : undefined;
  }

  async get(digest: string): Promise<LayerScan | undefined> {
    const hit = this.memory.get(digest);
    if (hit) return hit;
    const file = this.file(digest);
    if (!file) return undefined;
    try {
      const scan = JSON.parse(await readFile(file, 'utf8')) as LayerScan;
      if (scan.format !== SCAN_FORMAT) return undefined;
      this.memory.set(digest, scan);
      return scan;
    } catch {
      // Missing or half-written by a killed worker: scanning again is always correct.
      return undefined;
    }
  }

  async put(digest: string, scan: LayerScan): Promise<void> {
    this.memory.set(digest, scan);
    const file = this.file(digest);
    if (!file) return;
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, JSON.stringify(scan));
    // Rename is atomic, so concurrent activities on one worker never read half a scan.
    await rename(tmp, file);
  }
}

async function layerScan(opts: VerifyImageOptions, cache: ImageScanCache, layer: LayerDescriptor, label: string): Promise<LayerScan> {
  const cached = await cache.get(layer.digest);
  if (cached) return cached;
  const res = await opts.client.getBlob(layer.digest);
  const body = Readable.fromWeb(res.body);
  let scan: LayerScan;
  try {
    scan = await scanLayer(body, layer.mediaType, {
      digest: layer.digest,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (n) => opts.heartbeat?.(`${label}: ${Math.round(n / (1024 * 1024))} MiB read`),
    });
  } finally {
    body.destroy();
  }
  await cache.put(layer.digest, scan);
  return scan;
}

/** Everything that is wrong with one platform's image, and the packages proven right. */
async function verifyPlatform(
  opts: VerifyImageOptions,
  cache: ImageScanCache,
  records: (wheel: PublishedWheel) => Promise<WheelRecord>,
  platform: string,
  manifestDigest: string,
): Promise<{ problems: string[]; packages: VerifiedPackage[] }> {
  const problems: string[] = [];
  const manifest = await opts.client.getManifest(manifestDigest);
  if (!manifest) return { problems: [`${platform}: image manifest ${manifestDigest} is listed in the index but missing from the registry`], packages: [] };
  const layers = manifest.json.layers;
  if (!layers) return { problems: [`${platform}: ${manifestDigest} is not an image manifest (${manifest.mediaType})`], packages: [] };

  const scans: LayerScan[] = [];
  for (const [i, layer] of layers.entries()) {
    const label = `scanning ${platform} layer ${i + 1}/${layers.length}`;
    opts.heartbeat?.(label);
    try {
      scans.push(await layerScan(opts, cache, layer, label));
    } catch (err) {
      if (err instanceof UnsupportedLayerError)
        return { problems: [`${platform}: layer ${i + 1}/${layers.length} (${layer.digest}) ${err.message}`], packages: [] };
      throw err;
    }
  }
  const view = mergeLayers(scans);
  const installed = installedDistributions(view);
  const packages: VerifiedPackage[] = [];
  /** site-packages path → the released package whose wheel put it there, for naming ELF owners. */
  const owners = new Map<string, string>();

  for (const pkg of opts.packages) {
    const wanted = normalizeProjectName(pkg.name);
    const mine = installed.filter((d) => normalizeProjectName(d.name) === wanted);
    if (mine.length === 0) {
      problems.push(`${platform}: ${pkg.name} is not installed in the image (no ${distInfoName(pkg.name, pkg.version)} under any site-packages)`);
      continue;
    }
    const atVersion = mine.filter((d) => sameVersion(d.version, pkg.version));
    if (atVersion.length === 0) {
      const where = mine.map((d) => `/${d.root}/${d.dir}`).join(', ');
      problems.push(`${platform}: ${pkg.name} is installed at ${[...new Set(mine.map((d) => d.version))].join(', ')}, not ${pkg.version} (${where})`);
      continue;
    }
    if (pkg.wheels.length === 0) {
      problems.push(`${platform}: ${pkg.name} ${pkg.version} has no published wheel to compare the installed files with`);
      continue;
    }
    let closest: { differences: Difference[]; wheel: string } | undefined;
    let match: string | undefined;
    for (const install of atVersion) {
      for (const wheel of pkg.wheels) {
        const record = await records(wheel);
        const differences = compareWithWheel(view, install.root, record);
        if (differences.length === 0) {
          match = wheel.filename;
          for (const path of record.files.keys()) owners.set(`${install.root}/${path}`, pkg.name);
          break;
        }
        if (!closest || differences.length < closest.differences.length) closest = { differences, wheel: wheel.filename };
      }
      if (match) break;
    }
    if (match) packages.push({ name: pkg.name, version: pkg.version, wheel: match });
    else {
      problems.push(
        `${platform}: ${pkg.name} ${pkg.version} installed, but its files are not the published wheel's: was it installed from another index? ${describeDifferences(closest!.differences, closest!.wheel)}`,
      );
    }
  }

  const arch = platform.split('/')[1] ?? '';
  const machine = MACHINE_OF_ARCH[arch];
  if (machine !== undefined) {
    for (const [path, node] of view) {
      if (node.kind !== 'file' || !node.file.elf) continue;
      const [found, data] = node.file.elf;
      const wrongEndian = arch === 'ppc64le' && data !== 1;
      if (found === machine && !wrongEndian) continue;
      const site = siteRoot(path)!;
      const owner =
        owners.get(path) ?? installed.find((d) => d.root === site.root && normalizeProjectName(d.name) === normalizeProjectName(site.rel.split('/')[0]!))?.name;
      const where = owner ? `${site.rel} (in ${owner})` : `/${path}`;
      problems.push(`${platform}: ${where} is built for ${machineName(found, data)}, not ${arch}`);
    }
  }
  return { problems, packages };
}

/**
 * Reads every platform of a pushed image from the registry and proves each released package is
 * installed from its published wheel and that its compiled code fits the platform. Throws one
 * non-retryable ImageContentMismatch listing every problem (one line each); registry and network
 * failures stay RegistryError so the caller's withRegistryFailures retries them.
 */
export async function verifyImageContents(opts: VerifyImageOptions): Promise<VerifiedPlatform[]> {
  const cache = new ImageScanCache(opts.cacheDir);
  const wheelRecords = new Map<string, Promise<WheelRecord>>();
  const records = (wheel: PublishedWheel) => {
    let record = wheelRecords.get(wheel.path);
    if (!record) {
      record = readWheelRecord(wheel);
      wheelRecords.set(wheel.path, record);
    }
    return record;
  };
  const entries = opts.index.json.manifests ?? [];
  const problems: string[] = [];
  const verified: VerifiedPlatform[] = [];
  if (!opts.index.json.manifests) problems.push(`${opts.index.digest} is not a multi-platform index (${opts.index.mediaType})`);
  else {
    for (const platform of opts.platforms) {
      const entry = entries.find((e) => samePlatform(platformOf(e), platform));
      if (!entry) {
        problems.push(`${platform}: not in the pushed index ${opts.index.digest} (it has ${entries.map(platformOf).join(', ') || 'no platforms'})`);
        continue;
      }
      const result = await verifyPlatform(opts, cache, records, platform, entry.digest);
      problems.push(...result.problems);
      if (result.problems.length === 0) verified.push({ platform, digest: entry.digest, packages: result.packages });
    }
  }
  if (problems.length > 0) throw failure('ImageContentMismatch', problems.join('\n'));
  return verified;
}
