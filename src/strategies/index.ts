/** The strategies by name: commands ask here instead of testing the name themselves. */
import { decideScheduler, type Capabilities, type Decision, type Scheduler } from '../core/capabilities.js';
import type { Config, Strategy } from '../core/config.js';
import { partmanStrategy } from './partman.js';
import { plpgsqlStrategy } from './plpgsql.js';
import type { PartitionStrategy } from './types.js';

export const STRATEGIES: Readonly<Record<Strategy, PartitionStrategy>> = { partman: partmanStrategy, plpgsql: plpgsqlStrategy };

export function strategyOf(name: Strategy): PartitionStrategy {
  return STRATEGIES[name];
}

/** The order `strategy: auto` asks the strategies in: pg_partman where the server has it, else the kit's own. */
const PREFERENCE: readonly Strategy[] = ['partman', 'plpgsql'];

/**
 * The strategy and the scheduler, with the reasons for each and the advice for what is missing.
 * `kept`: the requested strategy or scheduler is not a flag but what provision recorded in the kit's
 * registry (src/core/settings.ts), kept because nothing asked for another.
 */
export function decide(
  caps: Capabilities,
  config: Config,
  requested: 'auto' | Strategy = config.strategy,
  requestedScheduler: 'auto' | Scheduler = 'auto',
  kept: { readonly strategy?: boolean; readonly scheduler?: boolean } = {},
): Decision {
  let strategy: Strategy | undefined;
  const reasons: string[] = [];
  const advice: string[] = [];
  if (requested !== 'auto') {
    strategy = requested;
    reasons.push(kept.strategy ? `strategy ${requested} is kept as provision recorded it in ${config.kitSchema}.managed_table (--strategy changes it)` : `strategy ${requested} was requested`);
    const choice = strategyOf(requested).whenRequested(caps, config);
    reasons.push(...choice.reasons);
    advice.push(...choice.advice);
  } else {
    for (const name of PREFERENCE) {
      const choice = strategyOf(name).whenAuto(caps, config);
      if (choice === null) continue;
      strategy = name;
      reasons.push(...choice.reasons);
      advice.push(...choice.advice);
      break;
    }
  }
  if (strategy === undefined) throw new Error('internal: the last strategy of PREFERENCE runs on every server');
  const scheduler = decideScheduler(caps, config, requestedScheduler, kept.scheduler ?? false);
  return { strategy, scheduler: scheduler.scheduler, reasons: [...reasons, ...scheduler.reasons], advice: [...advice, ...scheduler.advice] };
}
