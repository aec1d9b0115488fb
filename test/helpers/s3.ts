/**
 * An S3-compatible store on loopback for the archive tests: s3rver 3.7.1, a file-backed S3 API
 * server written in Node. It is a STAND-IN for S3 (no MinIO or AWS is reachable from CI): partkit
 * talks to it with the same SDK calls (multipart Upload, CopyObject, GetObject, path-style
 * addressing) as to S3, R2 or MinIO. Started from a test file's beforeAll; when it cannot start the
 * test run fails (never skips).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

/** s3rver's fixed credentials. */
export const S3_ACCESS_KEY = 'S3RVER';
export const S3_SECRET_KEY = 'S3RVER';

export interface TestS3 {
  readonly endpoint: string;
  /** Where s3rver keeps the objects (to tamper with one). */
  readonly directory: string;
  /** Environment for partkit: credentials through the standard chain, and the endpoint. */
  env(extra?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

export async function startTestS3(buckets: readonly string[]): Promise<TestS3> {
  const directory = mkdtempSync(path.join(tmpdir(), 'partkit-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
  let port: number;
  try {
    ({ port } = await server.run());
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    throw new Error(`s3rver (the stand-in for S3) did not start: ${(error as Error).message}`, { cause: error });
  }
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    directory,
    env: (extra = {}) => ({ AWS_ACCESS_KEY_ID: S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: endpoint, ...extra }),
    async stop() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
