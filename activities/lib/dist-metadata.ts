// The name and version a built distribution declares about itself (a wheel's .dist-info/METADATA,
// an sdist's PKG-INFO): what an installer and the index believe, whatever the file name says.
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import yauzl from 'yauzl';

export interface DistMetadata {
  readonly name: string;
  readonly version: string;
}

const METADATA_LIMIT = 4 * 1024 * 1024;

/** Name and Version, where present, from the header block of a core-metadata file (RFC 822 style, ends at the first blank line). */
export function coreMetadataFields(text: string): { name?: string; version?: string } {
  const out: { name?: string; version?: string } = {};
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    const m = /^(Name|Version):[ \t]*(.*?)[ \t]*$/i.exec(line);
    const key = m?.[1]?.toLowerCase() as 'name' | 'version' | undefined;
    if (key && out[key] === undefined) out[key] = m![2]!;
  }
  return out;
}

/** Name and Version of a distribution's own metadata; both must be there. */
export function parseCoreMetadata(text: string, what: string): DistMetadata {
  const { name, version } = coreMetadataFields(text);
  if (!name || !version) throw new Error(`${what} has no ${name ? 'Version' : 'Name'} field`);
  return { name, version };
}

async function collect(stream: AsyncIterable<Buffer>, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > METADATA_LIMIT) throw new Error(`${what} is larger than ${METADATA_LIMIT} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function wheelMetadata(path: string): Promise<DistMetadata> {
  const file = basename(path);
  const zip = await yauzl.openPromise(path, { autoClose: false });
  try {
    // The one .dist-info directory at the top of the wheel (PEP 427).
    for await (const entry of zip.eachEntry()) {
      if (/^[^/]+\.dist-info\/METADATA$/.test(entry.fileName)) {
        return parseCoreMetadata(await collect((await zip.openReadStreamPromise(entry)) as AsyncIterable<Buffer>, `${file} METADATA`), `${file} METADATA`);
      }
    }
    throw new Error(`${file} has no .dist-info/METADATA`);
  } finally {
    zip.close();
  }
}

async function sdistMetadata(path: string): Promise<DistMetadata> {
  const file = basename(path);
  const extract = tar.extract();
  let found: string | undefined;
  extract.on('entry', (header, stream, next) => {
    // PKG-INFO of the sdist itself sits directly under its one top-level directory (PEP 625).
    if (found === undefined && header.type === 'file' && /^[^/]+\/PKG-INFO$/.test(header.name.replace(/^\.\//, ''))) {
      collect(stream as AsyncIterable<Buffer>, `${file} PKG-INFO`).then(
        (text) => {
          found = text;
          next();
        },
        (err: Error) => extract.destroy(err),
      );
      return;
    }
    stream.on('end', () => next());
    stream.resume();
  });
  try {
    await pipeline(createReadStream(path), createGunzip(), extract);
  } catch (err) {
    throw new Error(`${file} is not a readable .tar.gz: ${(err as Error).message}`);
  }
  if (found === undefined) throw new Error(`${file} has no PKG-INFO`);
  return parseCoreMetadata(found, `${file} PKG-INFO`);
}

/** Reads the metadata of a `.whl` or `.tar.gz` distribution. */
export async function readDistMetadata(path: string): Promise<DistMetadata> {
  if (path.endsWith('.whl')) return wheelMetadata(path);
  if (path.endsWith('.tar.gz')) return sdistMetadata(path);
  throw new Error(`${basename(path)} is neither a wheel nor an sdist`);
}
