/** Opens the target a `--to` / `--from` names: `s3://bucket/prefix` or a folder. */
import { FolderTarget, type FileModes } from './folder.js';
import { isS3Url, S3Target, type S3Options } from './s3.js';
import type { ArchiveTarget } from './types.js';

export type { ArchiveTarget } from './types.js';
export type { FileModes } from './folder.js';
export type { S3Options } from './s3.js';

export function openTarget(spec: string, options: { modes: FileModes; s3?: S3Options | undefined }): ArchiveTarget {
  return isS3Url(spec) ? new S3Target(spec, options.s3 ?? {}) : new FolderTarget(spec, options.modes);
}
