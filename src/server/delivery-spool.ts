// Webhook deliveries accepted while Temporal could not be reached, kept on disk until the drain
// (./spool-drain.ts) starts their releases. GitHub never redelivers on its own, so a delivery
// answered 5xx would be lost; one kept here survives a restart of the server too.
//
// One JSON file per delivery, named by its X-GitHub-Delivery id: a redelivery of a queued delivery
// finds its file instead of queueing twice. Files are written to a temporary name, fsynced, renamed
// into place and the directory fsynced, so a crash leaves either the whole file or none. The
// directory is 0700 and the files 0600: they name repositories and tags, nothing secret, but
// nobody else needs them. The count is bounded: a full spool refuses (the server answers 503 and
// GitHub shows the delivery as failed, to be redelivered from its UI or API).
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** What a queued delivery asks for: the release of `tag` of `repository` (owner/name). */
export interface SpooledDelivery {
  readonly delivery: string;
  readonly repository: string;
  readonly tag: string;
  /** ISO time the delivery arrived; the drain starts the oldest first. */
  readonly receivedAt: string;
}

const spooledDelivery = z
  .object({
    delivery: z.string(),
    repository: z.string().min(1).max(256),
    tag: z.string().min(1).max(256),
    receivedAt: z.iso.datetime(),
  })
  .strict();

// GitHub's delivery ids are GUIDs; anything else that could not be a file name is refused.
const DELIVERY_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** The X-GitHub-Delivery header when it is a usable id (it names a spool file), else undefined. */
export function deliveryId(header: unknown): string | undefined {
  return typeof header === 'string' && DELIVERY_ID.test(header) ? header : undefined;
}

export const DEFAULT_SPOOL_LIMIT = 1000;

export class SpoolFullError extends Error {
  override name = 'SpoolFullError';
}

export interface SpoolEntry extends SpooledDelivery {
  readonly file: string;
}

export class DeliverySpool {
  private constructor(
    readonly dir: string,
    readonly limit: number,
  ) {}

  /** Creates the directory (0700) when missing and tightens it when it exists. */
  static async open(dir: string, limit = DEFAULT_SPOOL_LIMIT): Promise<DeliverySpool> {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`spool limit must be a positive integer, not ${limit}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    return new DeliverySpool(dir, limit);
  }

  private file(delivery: string): string {
    if (!DELIVERY_ID.test(delivery)) throw new Error(`not a delivery id: ${JSON.stringify(delivery)}`);
    return join(this.dir, `${delivery}.json`);
  }

  private async names(): Promise<string[]> {
    return (await readdir(this.dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  }

  async has(delivery: string): Promise<boolean> {
    return (await this.names()).includes(`${delivery}.json`);
  }

  /** Queues `entry`; false when its delivery was already queued. Throws SpoolFullError at the limit. */
  async put(entry: SpooledDelivery): Promise<boolean> {
    const target = this.file(entry.delivery);
    const names = await this.names();
    if (names.includes(`${entry.delivery}.json`)) return false;
    if (names.length >= this.limit) throw new SpoolFullError(`the webhook spool holds ${names.length} deliveries (its limit)`);
    const temp = join(this.dir, `.${entry.delivery}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(temp, 'wx', 0o600);
    try {
      // The umask can only narrow 0600; chmod makes it exactly that.
      await handle.chmod(0o600);
      await handle.writeFile(`${JSON.stringify(spooledDelivery.parse(entry))}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    await this.syncDir();
    return true;
  }

  /** The queued deliveries, oldest first. A file that does not parse is set aside (renamed *.invalid) and reported. */
  async list(onInvalid: (file: string, reason: string) => void = () => undefined): Promise<SpoolEntry[]> {
    const entries: SpoolEntry[] = [];
    for (const name of await this.names()) {
      const file = join(this.dir, name);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        // Removed by a drain that finished it meanwhile.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      let parsed: SpooledDelivery | undefined;
      let reason = '';
      try {
        const result = spooledDelivery.safeParse(JSON.parse(text));
        if (result.success && `${result.data.delivery}.json` === name) parsed = result.data;
        else reason = result.success ? 'its delivery id is not its file name' : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      } catch (err) {
        reason = (err as Error).message;
      }
      if (!parsed) {
        await rename(file, `${file}.invalid`).catch(() => undefined);
        onInvalid(file, reason);
        continue;
      }
      entries.push({ ...parsed, file });
    }
    return entries.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt) || a.delivery.localeCompare(b.delivery));
  }

  async remove(delivery: string): Promise<void> {
    await rm(this.file(delivery), { force: true });
    await this.syncDir();
  }

  /** A rename or unlink is durable once the directory itself is synced. */
  private async syncDir(): Promise<void> {
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
