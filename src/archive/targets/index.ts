/**
 * Opens the target a `--to` / `--from` names: `s3://bucket/prefix` or a folder. The S3 module (and
 * the AWS SDK it loads, about a quarter of a second of start-up) is imported only when an s3:// URL
 * is given, so that every other partkit command starts without it, and so that an application
 * that never exports to S3 need not install it: the SDK is an optional peer dependency of partkit.
 */
import { FolderTarget, type FileModes } from './folder.js';
import { MissingCapabilityError } from '../../core/errors.js';
import type { ArchiveTarget, S3Options } from './types.js';

export type { ArchiveTarget } from './types.js';
export type { FileModes } from './folder.js';
export type { S3Options } from './types.js';

export function isS3Url(spec: string): boolean {
  return /^s3:\/\//i.test(spec);
}

export async function openTarget(spec: string, options: { modes: FileModes; s3?: S3Options | undefined }): Promise<ArchiveTarget> {
  if (!isS3Url(spec)) return new FolderTarget(spec, options.modes);
  const { S3Target } = await loadS3();
  return new S3Target(spec, options.s3 ?? {});
}

/** The packages s3.ts imports; partkit declares them as optional peer dependencies. */
export const S3_PACKAGES = ['@aws-sdk/client-s3', '@aws-sdk/lib-storage'] as const;

async function loadS3(): Promise<typeof import('./s3.js')> {
  try {
    return await import('./s3.js');
  } catch (error) {
    const missing = S3_PACKAGES.find((name) => (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${name}'`));
    if (missing === undefined) throw error;
    throw new MissingCapabilityError(`s3:// targets need the npm package ${missing}, which is not installed.`, `npm install ${S3_PACKAGES.map((name) => `${name}@3`).join(' ')}`, { cause: error });
  }
}
