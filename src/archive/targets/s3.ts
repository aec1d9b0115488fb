/**
 * An S3-compatible bucket (AWS S3, R2, GCS's XML API, MinIO), through the AWS SDK v3 and its
 * standard credential chain (env, shared config/credentials files, SSO, web identity, instance
 * roles). A data file is uploaded, streaming in multipart, under `<key>.<pid>.partial` and then
 * copied to its key and the temporary key deleted: a run killed mid-upload leaves at most an
 * unfinished multipart upload (never listed as an object) or a `.partial` object, both removed
 * by the next run, and never a half object under a month's key.
 */
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ConnectionError, MissingCapabilityError, UsageError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { isAlive } from '../../core/processes.js';
import type { ArchiveTarget, S3Options } from './types.js';

/** Parts of 5 MiB (S3's minimum), one in flight: memory stays flat whatever the size of a month. */
const PART_SIZE = 5 * 1024 * 1024;
const QUEUE_SIZE = 1;
/** CopyObject copies up to 5 GiB in one request; a larger month is streamed again to its key. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;
const PARTIAL = /^(.+)\.(\d+)\.partial$/;

/** How long a request may go without an answer; PARTKIT_S3_TIMEOUT_MS, default 2 minutes. */
function requestTimeoutMs(env: NodeJS.ProcessEnv): number {
  const given = Number(env.PARTKIT_S3_TIMEOUT_MS);
  return Number.isInteger(given) && given > 0 ? given : 120_000;
}


export function parseS3Url(spec: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(spec);
  if (!match || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(match[1]!)) {
    throw new UsageError(`"${spec}" is not an s3:// address with a bucket name.`, 'Use s3://BUCKET or s3://BUCKET/PREFIX, e.g. s3://semibot-cold/partkit');
  }
  return { bucket: match[1]!, prefix: match[2]!.replace(/\/+$/, '') };
}

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const AUTH_ERRORS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken', 'InvalidToken', 'CredentialsProviderError', 'Forbidden', 'AuthorizationHeaderMalformed']);
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'TimeoutError', 'RequestTimeout']);

/** SDK failures as partkit's typed errors: 3 for a store that does not answer or refuses the credentials, 4 for a missing bucket. */
export function s3Failure(error: unknown, bucket: string, endpoint: string): unknown {
  const e = (error ?? {}) as SdkError;
  const name = e.name ?? e.Code ?? '';
  const status = e.$metadata?.httpStatusCode;
  if (name === 'NoSuchBucket' || (name === 'NotFound' && status === 404)) {
    return new MissingCapabilityError(`The bucket ${bucket} does not exist at ${endpoint}.`, `Create it (aws s3 mb s3://${bucket}) or fix the address given to --to / --from.`, { cause: error });
  }
  if (AUTH_ERRORS.has(name) || status === 403 || status === 401) {
    return new ConnectionError(
      `${endpoint} refused the credentials for bucket ${bucket} (${name || `HTTP ${status}`}).`,
      'Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE, and that the policy allows s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject (docs/archival.md).',
      { cause: error },
    );
  }
  if (NETWORK_ERRORS.has(name) || NETWORK_ERRORS.has(e.code ?? '') || /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|socket hang up|timed? ?out/i.test(e.message ?? '')) {
    return new ConnectionError(`Cannot reach the object store at ${endpoint}: ${e.code ?? name} ${e.message ?? ''}`.trim(), 'Check --endpoint (or AWS_ENDPOINT_URL_S3) and that the store answers from this machine.', { cause: error });
  }
  return error;
}

function credentialsOf(env: NodeJS.ProcessEnv) {
  if (env === process.env) return {};
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken, AWS_PROFILE: profile } = env;
  if (accessKeyId && secretAccessKey) return { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } };
  return profile ? { profile } : {};
}

export class S3Target implements ArchiveTarget {
  readonly root: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly client: S3Client;
  private readonly endpoint: string;

  constructor(
    spec: string,
    private readonly options: S3Options,
    env: NodeJS.ProcessEnv = options.env ?? process.env,
  ) {
    const { bucket, prefix } = parseS3Url(spec);
    this.bucket = bucket;
    this.prefix = prefix;
    this.root = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
    const endpoint = options.endpoint ?? (env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined);
    if (endpoint !== undefined && !/^https?:\/\/[^/]+/i.test(endpoint)) throw new UsageError(`--endpoint "${endpoint}" is not an http(s) URL.`, 'For example: --endpoint https://ACCOUNT.r2.cloudflarestorage.com');
    this.endpoint = endpoint ?? 'AWS S3';
    // partkit supports Node >= 20.19 and pins the SDK's version; its notice about future versions
    // wanting Node 22 would only be noise in every command's output. Set the variable to see it.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client({
      region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle: options.pathStyle ?? false,
      // The SDK's own chain reads process.env; an environment given to partkit (runCli's env, the
      // API's) names the keys or the profile itself.
      ...credentialsOf(env),
      maxAttempts: 3,
      // A store that accepts connections but never answers fails the run instead of hanging it.
      requestHandler: { connectionTimeout: 10_000, requestTimeout: requestTimeoutMs(env), throwOnRequestTimeout: true },
    });
  }

  private keyOf(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  location(key: string): string {
    return `s3://${this.bucket}/${this.keyOf(key)}`;
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw s3Failure(error, this.bucket, this.endpoint);
    }
  }

  private async orNull<T>(run: () => Promise<T>): Promise<T | null> {
    try {
      return await run();
    } catch (error) {
      const e = error as SdkError;
      if (e.name === 'NoSuchKey' || (e.name === 'NotFound' && e.$metadata?.httpStatusCode === 404)) return null;
      throw s3Failure(error, this.bucket, this.endpoint);
    }
  }

  /** The bucket exists and the credentials work, before anything is read or written. */
  async prepare(): Promise<void> {
    await this.call(() => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
  }

  async readText(key: string): Promise<string | null> {
    const body = await this.read(key);
    if (body === null) return null;
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  async size(key: string): Promise<number | null> {
    const head = await this.orNull(() => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) })));
    return head === null ? null : (head.ContentLength ?? 0);
  }

  private encryption(): { ServerSideEncryption?: ServerSideEncryption } {
    return this.options.sse ? { ServerSideEncryption: this.options.sse as ServerSideEncryption } : {};
  }

  async write(key: string, source: Readable): Promise<void> {
    const temp = `${this.keyOf(key)}.${process.pid}.partial`;
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: temp, Body: source, ContentType: 'application/gzip', ...this.encryption() },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      // On an error the multipart upload is aborted; after a SIGKILL the next run aborts it.
      leavePartsOnError: false,
    });
    try {
      await this.call(() => upload.done());
      const size = (await this.size(key.concat(`.${process.pid}.partial`))) ?? 0;
      const storage = this.options.storageClass ? { StorageClass: this.options.storageClass as StorageClass } : {};
      if (size <= MAX_COPY_BYTES) {
        await this.call(() =>
          this.client.send(
            new CopyObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), CopySource: `${this.bucket}/${encodeURIComponent(temp).replaceAll('%2F', '/')}`, ContentType: 'application/gzip', MetadataDirective: 'REPLACE', ...this.encryption(), ...storage }),
          ),
        );
      } else {
        const body = (await this.read(key.concat(`.${process.pid}.partial`)))!;
        const again = new Upload({ client: this.client, params: { Bucket: this.bucket, Key: this.keyOf(key), Body: body, ContentType: 'application/gzip', ...this.encryption(), ...storage }, partSize: 64 * 1024 * 1024, queueSize: 1, leavePartsOnError: false });
        await this.call(() => again.done());
      }
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: temp })).catch(() => undefined);
    }
  }

  async writeText(key: string, text: string): Promise<void> {
    // One PUT is atomic on S3: the manifest is there complete or not at all.
    await this.call(() => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), Body: text, ContentType: 'application/json', ...this.encryption() })));
  }

  async remove(key: string): Promise<void> {
    await this.call(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) })));
  }

  async read(key: string): Promise<Readable | null> {
    const object = await this.orNull(() => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) })));
    if (object === null) return null;
    return object.Body as Readable;
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(() => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.keyOf(prefix)}/`, ContinuationToken: token })));
      for (const object of page.Contents ?? []) if (object.Key) keys.push(this.prefix ? object.Key.slice(this.prefix.length + 1) : object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /**
   * Deletes `<key>.<pid>.partial` objects and aborts unfinished multipart uploads of these keys left
   * by a run that is gone (on this host; a pid of another host's run is only trusted after it ended).
   */
  async removeLeftovers(keys: readonly string[], log: Logger): Promise<void> {
    const wanted = new Set(keys.map((key) => this.keyOf(key)));
    const prefixes = new Set(keys.map((key) => this.keyOf(key.slice(0, key.lastIndexOf('/') + 1))));
    const stale = (key: string) => {
      const match = PARTIAL.exec(key);
      if (!match || !wanted.has(match[1]!)) return false;
      const pid = Number(match[2]);
      return pid === process.pid || !isAlive(pid);
    };
    for (const prefix of prefixes) {
      let token: string | undefined;
      do {
        const page = await this.call(() => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token })));
        for (const object of page.Contents ?? []) {
          if (!object.Key || !stale(object.Key)) continue;
          await this.call(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: object.Key })));
          log.info(`  removed s3://${this.bucket}/${object.Key}, left by an interrupted export`);
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      try {
        const uploads = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix }));
        for (const upload of uploads.Uploads ?? []) {
          if (!upload.Key || !upload.UploadId || !stale(upload.Key)) continue;
          await this.call(() => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId })));
          log.info(`  aborted an unfinished upload of s3://${this.bucket}/${upload.Key} (${hostname()})`);
        }
      } catch (error) {
        // Some S3-compatible stores do not list multipart uploads; their lifecycle rules clean them.
        const failure = s3Failure(error, this.bucket, this.endpoint);
        if (failure !== error) throw failure;
        log.debug(`listing unfinished uploads is not supported here: ${(error as Error).message}`);
      }
    }
  }
}
