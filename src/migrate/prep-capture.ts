/**
 * migrate prep: change capture, from now until drop. The fill and the swap replay every recorded
 * key. On Citus the key includes the distribution column, so that a replay finds a key's rows on
 * one worker.
 */
import { captureName, createCaptureSteps } from './capture.js';
import type { Index } from './inspect.js';
import { emptyPart, type PrepContext, type PrepPart } from './prep-part.js';

export function planCapture(context: PrepContext, pk: Index, group: string): PrepPart {
  const { names, source, distributionColumn, label, table } = context;
  const part = emptyPart();
  if (source.captureExists) return part;
  const capture = captureName(names);
  const keyNames = [...new Set([...pk.keyNames, ...(distributionColumn === null ? [] : [distributionColumn])])];
  const keyColumns = keyNames.map((name) => source.columns.find((c) => c.name === name)!);
  part.steps.push(...createCaptureSteps({ capture, key: keyColumns, live: table.quoted, distributedBy: null, state: { after: null, done: false, rowsCopied: 0 }, group, table: label }));
  part.notes.push(`changes to ${label} are captured from now on (keys in ${capture.schema}.${capture.name}); fill and swap replay them, so writers may keep writing.`);
  return part;
}
