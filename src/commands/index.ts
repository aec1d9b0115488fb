/** Every command, in the order `partkit --help` lists them. */
import type { CommandModule } from 'yargs';
import type { GlobalOptions } from '../core/context.js';
import { doctorCommand } from './doctor.js';
import { maintainCommand } from './maintain.js';
import { provisionCommand } from './provision.js';
import { statusCommand } from './status.js';
import { verifyCommand } from './verify.js';
import { logCommand } from './log.js';
import { partitionCommand } from './partition-create.js';
import { demoCommand } from './demo.js';
import { migrateCommand } from './migrate.js';
import { archiveCommand } from './archive.js';
import { configCommand } from './config.js';
import { benchCommand } from './bench.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
/** @internal the command line (src/cli.ts); not part of the API, its types are left out of the published declarations */
export const commands: readonly CommandModule<GlobalOptions, any>[] = [doctorCommand, provisionCommand, maintainCommand, verifyCommand, statusCommand, logCommand, partitionCommand, migrateCommand, archiveCommand, configCommand, demoCommand, benchCommand];
