// Whether two distributions with the same file name hold the same thing. Builds of one commit are
// not byte-for-byte reproducible (setuptools stamps its sdists' gzip header and tar entries with the
// clock time, whatever SOURCE_DATE_EPOCH says), so a restarted release that finds files from its
// earlier run on the index needs a comparison by content: what an installer or unpacker would see,
// not how the archive happened to be written.
//
// An archive becomes a map of members (path → kind, executable bit, sha256), read as a stream one
// member at a time so a large distribution costs memory only for its member list.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import yauzl from 'yauzl';

export interface DistDifference {
  readonly member: string;
  readonly change: 'added' | 'removed' | 'content' | 'type' | 'mode';
}

type Member =
  | { readonly kind: 'dir' }
  | { readonly kind: 'file'; readonly sha256: string; readonly executable: boolean }
  | { readonly kind: 'symlink'; readonly target: string }
  /** A tar hard link whose target came later or not at all: only its target name is known. */
  | { readonly kind: 'hardlink'; readonly target: string }
  /** Devices, fifos and the like: nothing a distribution should hold, compared by kind alone. */
  | { readonly kind: 'special'; readonly type: string };

type Members = Map<string, Member>;

type Format = 'sdist' | 'wheel';

function formatOf(name: string): Format | undefined {
  if (name.endsWith('.tar.gz')) return 'sdist';
  if (name.endsWith('.whl')) return 'wheel';
  return undefined;
}

/**
 * Archives name one member "./a/b", "a/b" or "a/b/" depending on the tool; all of them unpack to
 * "a/b". ".." is kept as written: folding it away could make two different members look alike.
 */
function memberName(raw: string): string {
  return raw.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
}

function isExecutable(mode: number | undefined): boolean {
  return ((mode ?? 0) & 0o111) !== 0;
}

interface Read {
  readonly sha256: string;
  readonly crc32: number;
  readonly size: number;
  /** The bytes themselves, only when asked for and no longer than `keep`. */
  readonly bytes?: Buffer;
}

async function readMember(stream: AsyncIterable<Buffer>, keep = 0): Promise<Read> {
  const hash = createHash('sha256');
  const kept: Buffer[] = [];
  let crc32 = 0;
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    crc32 = zlib.crc32(chunk, crc32);
    size += chunk.length;
    if (size <= keep) kept.push(chunk);
  }
  return { sha256: hash.digest('hex'), crc32, size, ...(keep > 0 && size <= keep ? { bytes: Buffer.concat(kept) } : {}) };
}

async function readSdist(path: string): Promise<Members> {
  const members: Members = new Map();
  const files = new Map<string, Member>();
  const extract = tar.extract();
  const collect = async () => {
    try {
      for await (const entry of extract) {
        const h = entry.header;
        const name = memberName(h.name);
        let member: Member;
        if (h.type === 'file' || h.type === 'contiguous-file') {
          member = { kind: 'file', sha256: (await readMember(entry as unknown as AsyncIterable<Buffer>)).sha256, executable: isExecutable(h.mode) };
          files.set(name, member);
        } else {
          entry.resume();
          if (h.type === 'directory') member = { kind: 'dir' };
          else if (h.type === 'symlink') member = { kind: 'symlink', target: h.linkname ?? '' };
          else if (h.type === 'link') {
            // Unpacked, a hard link is its target's bytes under another name; its own mode bits are
            // the target's too, since both names share one inode.
            const target = memberName(h.linkname ?? '');
            member = files.get(target) ?? { kind: 'hardlink', target };
          } else member = { kind: 'special', type: h.type ?? 'unknown' };
        }
        if (name === '') continue;
        // A later entry of the same name overwrites an earlier one when unpacked.
        members.set(name, member);
      }
    } catch (err) {
      extract.destroy(err as Error);
      throw err;
    }
  };
  // Both sides must settle before the error is reported, or a failing one leaves the other dangling.
  const [piped, collected] = await Promise.allSettled([pipeline(createReadStream(path), zlib.createGunzip(), extract), collect()]);
  const failure = piped.status === 'rejected' ? piped.reason : collected.status === 'rejected' ? collected.reason : undefined;
  if (failure) throw new Error(`${path} is not a readable sdist (.tar.gz): ${(failure as Error).message}`);
  return members;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
/** zip's "version made by" host system for Unix, the only one whose attributes carry a mode. */
const MADE_BY_UNIX = 3;
const MAX_SYMLINK_TARGET = 4096;

async function readWheel(path: string): Promise<Members> {
  const members: Members = new Map();
  let zip: yauzl.ZipFile | undefined;
  try {
    zip = await yauzl.openPromise(path, { autoClose: false });
    for await (const entry of zip.eachEntry()) {
      const name = memberName(entry.fileName);
      // Installers disagree on which of two same-named members wins, so neither can be trusted.
      if (members.has(name)) throw new Error(`it has two members named ${name}`);
      const mode = entry.versionMadeBy >> 8 === MADE_BY_UNIX ? entry.externalFileAttributes >>> 16 : 0;
      if (entry.fileName.endsWith('/') || (mode & S_IFMT) === S_IFDIR) {
        members.set(name, { kind: 'dir' });
        continue;
      }
      const symlink = (mode & S_IFMT) === S_IFLNK;
      const read = await readMember((await zip.openReadStreamPromise(entry)) as AsyncIterable<Buffer>, symlink ? MAX_SYMLINK_TARGET : 0);
      // yauzl checks sizes but not checksums; a damaged member must not pass for different content.
      if (read.crc32 !== entry.crc32) throw new Error(`member ${name} fails its CRC-32 check`);
      if (!symlink) members.set(name, { kind: 'file', sha256: read.sha256, executable: isExecutable(mode) });
      else if (read.bytes) members.set(name, { kind: 'symlink', target: read.bytes.toString('utf8') });
      else throw new Error(`symlink ${name} has a ${read.size}-byte target`);
    }
    return members;
  } catch (err) {
    throw new Error(`${path} is not a readable wheel (.whl): ${(err as Error).message}`);
  } finally {
    zip?.close();
  }
}

/** Directories an archive implies by its members' paths exist when unpacked, listed or not. */
function withParents(members: Members): Members {
  for (const name of [...members.keys()]) {
    for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
      const parent = name.slice(0, i);
      if (!members.has(parent)) members.set(parent, { kind: 'dir' });
    }
  }
  return members;
}

function sameKind(x: Member, y: Member): boolean {
  if (x.kind !== y.kind) return false;
  if ((x.kind === 'symlink' || x.kind === 'hardlink') && (y.kind === 'symlink' || y.kind === 'hardlink')) return x.target === y.target;
  if (x.kind === 'special' && y.kind === 'special') return x.type === y.type;
  return true;
}

function readerFor(path: string, name: string): (path: string) => Promise<Members> {
  const format = formatOf(name);
  if (format === 'sdist') return readSdist;
  if (format === 'wheel') return readWheel;
  throw new Error(`${name} is neither an sdist (.tar.gz) nor a wheel (.whl); cannot compare ${path} by content`);
}

/**
 * Compares two distributions of the same file name (an sdist .tar.gz or a wheel .whl) by their
 * members: names, kinds (file/dir/symlink and link target), executable bit, and content hashes.
 * Archive-level metadata (gzip header time/name/OS, tar mtimes, uid/gid/uname/gname, zip
 * timestamps, member order, compression level) is ignored.
 *
 * The differences say how `b` differs from `a` ("added" is in `b` only), sorted by member. An empty
 * list means the two unpack to the same tree. `filename` names the distribution when the paths
 * do not end in its name (e.g. files in the artifact store, kept under their sha256).
 */
export async function compareDistributions(a: string, b: string, opts: { filename?: string } = {}): Promise<DistDifference[]> {
  const readA = readerFor(a, opts.filename ?? basename(a));
  const readB = readerFor(b, opts.filename ?? basename(b));
  if (readA !== readB) throw new Error(`${basename(a)} and ${basename(b)} are not the same kind of distribution`);
  const [left, right] = await Promise.all([readA(a), readB(b)]);
  withParents(left);
  withParents(right);
  const diffs: DistDifference[] = [];
  for (const member of [...new Set([...left.keys(), ...right.keys()])].sort()) {
    const x = left.get(member);
    const y = right.get(member);
    if (!x) diffs.push({ member, change: 'added' });
    else if (!y) diffs.push({ member, change: 'removed' });
    else if (!sameKind(x, y)) diffs.push({ member, change: 'type' });
    else if (x.kind === 'file' && y.kind === 'file') {
      if (x.sha256 !== y.sha256) diffs.push({ member, change: 'content' });
      if (x.executable !== y.executable) diffs.push({ member, change: 'mode' });
    }
  }
  return diffs;
}

const PHRASES: Readonly<Record<DistDifference['change'], string>> = {
  added: 'added',
  removed: 'removed',
  content: 'content of',
  type: 'type of',
  mode: 'executable bit of',
};

/** A member name that would break the line or its comma-separated list is shown quoted. */
function shownName(member: string): string {
  return /[\u0000-\u001f\u007f,]/.test(member) ? JSON.stringify(member) : member;
}

/**
 * One human line, e.g. "otai_probe-1.0.0.tar.gz: content of otai_probe-1.0.0/src/x.py, added
 * otai_probe-1.0.0/NEW.txt (and 3 more)". At most `limit` differences are named (at least one).
 */
export function describeDifferences(filename: string, diffs: readonly DistDifference[], limit = 5): string {
  if (diffs.length === 0) return `${filename}: no differences`;
  const shown = diffs.slice(0, Math.max(1, Math.floor(limit))).map((d) => `${PHRASES[d.change]} ${shownName(d.member)}`);
  const more = diffs.length > shown.length ? ` (and ${diffs.length - shown.length} more)` : '';
  return `${filename}: ${shown.join(', ')}${more}`;
}
