/**
 * Opens the target a `--to` / `--from` names: `s3://bucket/prefix` or a folder. The S3 module (and
 * the AWS SDK it loads, about a quarter of a second of start-up) is imported only when an s3:// URL
 * is given, so that every other partkit command starts without it.
 */
import { FolderTarget, type FileModes } from './folder.js';
import type { S3Options } from './s3.js';
import type { ArchiveTarget } from './types.js';

export type { ArchiveTarget } from './types.js';
export type { FileModes } from './folder.js';
export type { S3Options } from './s3.js';

export function isS3Url(spec: string): boolean {
  return /^s3:\/\//i.test(spec);
}

export async function openTarget(spec: string, options: { modes: FileModes; s3?: S3Options | undefined }): Promise<ArchiveTarget> {
  if (!isS3Url(spec)) return new FolderTarget(spec, options.modes);
  const { S3Target } = await import('./s3.js');
  return new S3Target(spec, options.s3 ?? {});
}
