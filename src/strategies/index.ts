/** The strategies by name: commands ask here instead of testing the name themselves. */
import type { Strategy } from '../core/config.js';
import { partmanStrategy } from './partman.js';
import { plpgsqlStrategy } from './plpgsql.js';
import type { PartitionStrategy } from './types.js';

export const STRATEGIES: Readonly<Record<Strategy, PartitionStrategy>> = { partman: partmanStrategy, plpgsql: plpgsqlStrategy };

export function strategyOf(name: Strategy): PartitionStrategy {
  return STRATEGIES[name];
}
