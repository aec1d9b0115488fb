/**
 * Where exported months go: a folder or an S3-compatible bucket. Both hold the same keys
 * (`<schema>.<table>/<YYYY-MM>.csv.gz` and `.json`) under their root, and both write a data file so
 * that a reader sees either nothing (or the previous complete file) or the complete new one, never
 * half of it. The manifest, checksum and idempotence rules live in export.ts, once for both.
 */
import type { Readable } from 'node:stream';
import type { Logger } from '../../core/log.js';

export interface ArchiveTarget {
  /** The root as given: an absolute folder, or s3://bucket/prefix. */
  readonly root: string;
  /** Where a key is, as printed and recorded in archive_export.file. */
  location(key: string): string;
  /** Checks (and for a folder creates) the root before anything is written; errors are typed. */
  prepare(): Promise<void>;
  /** The text of a small object, or null when there is none. */
  readText(key: string): Promise<string | null>;
  /** Size in bytes, or null when there is none. */
  size(key: string): Promise<number | null>;
  /** Stores the bytes of `source` under `key`, all or nothing: a killed run leaves no half object visible. */
  write(key: string, source: Readable): Promise<void>;
  /** Stores a small text (a manifest) under `key`, all or nothing. */
  writeText(key: string, text: string): Promise<void>;
  remove(key: string): Promise<void>;
  /** Reads an object back, as stored; null when there is none. */
  read(key: string): Promise<Readable | null>;
  /** Keys (relative to the root) under a prefix, for `archive list`. */
  list(prefix: string): Promise<string[]>;
  /** Cleans what an interrupted run left for these keys (partial files, unfinished uploads). */
  removeLeftovers(keys: readonly string[], log: Logger): Promise<void>;
}

/** How an s3:// target is reached and written (the AWS SDK itself stays in s3.ts, loaded only for s3:// targets). */
export interface S3Options {
  /** An S3-compatible endpoint; default AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then AWS itself. */
  readonly endpoint?: string | undefined;
  /** Path-style addressing (http://host/bucket/key), which most self-hosted stores need. */
  readonly pathStyle?: boolean | undefined;
  /** Server-side encryption: AES256, aws:kms, ... */
  readonly sse?: string | undefined;
  /** Storage class of the data files: STANDARD_IA, GLACIER_IR, ... (manifests stay STANDARD). */
  readonly storageClass?: string | undefined;
  /** Where the endpoint, region and credentials (AWS_*) are read; default process.env. */
  readonly env?: NodeJS.ProcessEnv | undefined;
}
