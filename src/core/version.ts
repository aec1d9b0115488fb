/** partkit's own version, read from the package.json beside src/ and dist/ (never the app's). */
import { readFileSync } from 'node:fs';

/** The same relative place from src/core and dist/core: the package's root. */
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

export const PARTKIT_VERSION: string = (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version;
