#!/usr/bin/env node
/**
 * The partkit command line: src/run-cli.ts with this process's arguments and environment. Each
 * command lives in its own module under src/commands/.
 */
import { hideBin } from 'yargs/helpers';
import { runCli } from './run-cli.js';

process.exitCode = await runCli(hideBin(process.argv));
