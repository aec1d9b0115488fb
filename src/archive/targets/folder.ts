/**
 * A cold-storage folder: files 0600 and folders 0700 by default (archived rows are user data),
 * written as `<file>.<pid>.partial`, fsynced, renamed into place and the folder fsynced.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { access, chmod, constants, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MissingCapabilityError, UsageError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { isAlive } from '../../core/processes.js';
import type { ArchiveTarget } from './types.js';

export interface FileModes {
  readonly fileMode: number;
  readonly dirMode: number;
}

async function fsyncPath(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems cannot fsync a directory; the file itself was synced before.
    if (!['EINVAL', 'EISDIR', 'EPERM', 'EBADF'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    await handle.close();
  }
}

/** Where a file is written before it is complete: `<file>.<pid>.partial`, renamed into place when done. */
function partialName(file: string, pid: number): string {
  return `${file}.${pid}.partial`;
}

/**
 * Creates `directory` and any missing parents with exactly `mode` (mkdir's mode passes through the
 * umask). Folders that already exist keep theirs: partkit changes only what it creates. One
 * mkdir per missing folder, parents first: Node's recursive mkdir never returns under /proc,
 * where mkdir fails with ENOENT below a folder that exists.
 */
async function makeDirectory(directory: string, mode: number): Promise<void> {
  const missing: string[] = [];
  for (let each = path.resolve(directory); ; each = path.dirname(each)) {
    const exists = await stat(each).then(
      () => true,
      (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? false : Promise.reject(error)),
    );
    if (exists) break;
    missing.unshift(each);
    if (path.dirname(each) === each) break;
  }
  for (const each of missing) {
    await mkdir(each, { mode }).catch((error: NodeJS.ErrnoException) => (error.code === 'EEXIST' ? undefined : Promise.reject(error)));
    await chmod(each, mode);
  }
}

/** A folder this user may not write to: exit 4, with who the user is. */
function cannotWrite(folder: string, error: NodeJS.ErrnoException): Error {
  if (error.code !== 'EACCES' && error.code !== 'EPERM' && error.code !== 'EROFS') return error;
  const user = typeof process.getuid === 'function' ? ` (uid ${process.getuid()})` : '';
  return new MissingCapabilityError(
    `Cannot write to ${folder}: ${error.code === 'EROFS' ? 'the file system is read-only' : 'permission denied'}${user}.`,
    'Give --to a folder this user can write to, or let an administrator change its owner or mode.',
    { cause: error },
  );
}

function orNullWhenMissing<T>(error: unknown): T | null {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
  throw error;
}

export class FolderTarget implements ArchiveTarget {
  readonly root: string;

  constructor(
    root: string,
    private readonly modes: FileModes,
  ) {
    this.root = path.resolve(root);
  }

  location(key: string): string {
    return path.join(this.root, ...key.split('/'));
  }

  async prepare(): Promise<void> {
    try {
      await makeDirectory(this.root, this.modes.dirMode);
    } catch (error) {
      throw new UsageError(`Cannot create --to folder ${this.root}: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`, 'Give a folder partkit can write to.');
    }
    // Before the first month is read from the database: a folder this user may not write to is
    // refused at once, not after a month's COPY has started.
    await access(this.root, constants.W_OK | constants.X_OK).catch((error: NodeJS.ErrnoException) => {
      throw cannotWrite(this.root, error);
    });
  }

  readText(key: string): Promise<string | null> {
    return readFile(this.location(key), 'utf8').catch(orNullWhenMissing<string>);
  }

  async size(key: string): Promise<number | null> {
    return stat(this.location(key)).then((s) => s.size, orNullWhenMissing<number>);
  }

  async write(key: string, source: Readable): Promise<void> {
    const file = this.location(key);
    await makeDirectory(path.dirname(file), this.modes.dirMode).catch((error: NodeJS.ErrnoException) => {
      throw cannotWrite(path.dirname(file), error);
    });
    const temp = partialName(file, process.pid);
    try {
      // Exactly the configured mode, whatever the umask, before a byte of user data is written.
      const created = await open(temp, 'w', this.modes.fileMode).catch((error: NodeJS.ErrnoException) => {
        throw cannotWrite(path.dirname(file), error);
      });
      try {
        await created.chmod(this.modes.fileMode);
      } finally {
        await created.close();
      }
      await pipeline(source, createWriteStream(temp, { flags: 'w' }));
      await fsyncPath(temp);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    await rename(temp, file);
    await fsyncPath(path.dirname(file));
  }

  /** Temp file, fsync, rename, fsync the folder: the file is either absent or complete. */
  async writeText(key: string, text: string): Promise<void> {
    const file = this.location(key);
    await makeDirectory(path.dirname(file), this.modes.dirMode);
    const temp = partialName(file, process.pid);
    const handle = await open(temp, 'w', this.modes.fileMode);
    try {
      await handle.chmod(this.modes.fileMode);
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
    await fsyncPath(path.dirname(file));
  }

  async remove(key: string): Promise<void> {
    await rm(this.location(key), { force: true });
  }

  async read(key: string): Promise<Readable | null> {
    const file = this.location(key);
    const exists = await stat(file).then(() => true, orNullWhenMissing<boolean>);
    return exists ? createReadStream(file) : null;
  }

  async list(prefix: string): Promise<string[]> {
    const folder = this.location(prefix);
    const entries = await readdir(folder).catch(orNullWhenMissing<string[]>);
    return (entries ?? []).map((entry) => `${prefix}/${entry}`);
  }

  /**
   * Removes `<file>.<pid>.partial` of these keys when that process is gone. Nothing else in the
   * folder is touched.
   */
  async removeLeftovers(keys: readonly string[], log: Logger): Promise<void> {
    const byDirectory = new Map<string, Set<string>>();
    for (const key of keys) {
      const file = this.location(key);
      const names = byDirectory.get(path.dirname(file)) ?? new Set<string>();
      byDirectory.set(path.dirname(file), names.add(path.basename(file)));
    }
    for (const [directory, names] of byDirectory) {
      const entries = await readdir(directory).catch(orNullWhenMissing<string[]>);
      for (const entry of entries ?? []) {
        const match = /^(.+)\.(\d+)\.partial$/.exec(entry);
        if (!match || !names.has(match[1]!)) continue;
        const pid = Number(match[2]);
        if (pid !== process.pid && isAlive(pid)) continue;
        await rm(path.join(directory, entry), { force: true });
        log.info(`  removed ${path.join(directory, entry)}, left by an interrupted export`);
      }
    }
  }
}
