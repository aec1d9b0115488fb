/**
 * migrate prep: what CREATE TABLE ... LIKE does not copy, copied from the original to the copy when
 * the copy lacks it: outgoing foreign keys, grants, user triggers (disabled until the swap),
 * row-level security policies and flags.
 */
import { quoteIdent } from '../core/identifiers.js';
import { emptyPart, type PrepContext, type PrepPart } from './prep-part.js';

/** The original's foreign keys to other tables, on the copy. */
export function planForeignKeys(context: PrepContext): PrepPart {
  const { names, target, step, source, copy } = context;
  const part = emptyPart();
  const onCopy = new Set((copy?.foreignKeys ?? []).map((fk) => fk.definition));
  for (const fk of source.foreignKeys) {
    if (onCopy.has(fk.definition)) continue;
    part.steps.push(step(`foreign key on ${names.partitioned.name} like ${fk.name}: ${fk.definition}`, `ALTER TABLE ${target} ADD ${fk.definition}`));
  }
  return part;
}

/** Privileges granted on the original to roles other than its owner, on the copy. */
export function planGrants(context: PrepContext): PrepPart {
  const { names, target, step, source, copy, label } = context;
  const part = emptyPart();
  const key = (grant: { grantee: string; privilege: string; grantable: boolean }) => `${grant.grantee}|${grant.privilege}|${grant.grantable}`;
  const onCopy = new Set((copy?.grants ?? []).map(key));
  for (const grant of source.grants) {
    if (onCopy.has(key(grant))) continue;
    part.steps.push(step(`grant ${grant.privilege} on ${names.partitioned.name} to ${grant.grantee}, as on ${label}`, `GRANT ${grant.privilege} ON ${target} TO ${grant.grantee}${grant.grantable ? ' WITH GRANT OPTION' : ''}`));
  }
  return part;
}

/** pg_get_triggerdef's text with the table replaced: `... ON <table> ...` names it exactly once. */
export function retargetTrigger(definition: string, source: string, target: string): string | undefined {
  const marker = ` ON ${source} `;
  const at = definition.indexOf(marker);
  if (at < 0 || definition.indexOf(marker, at + 1) >= 0) return undefined;
  return `${definition.slice(0, at)} ON ${target} ${definition.slice(at + marker.length)}`;
}

/**
 * User triggers, recreated on the copy but disabled until the swap: fill and replay copy rows as
 * they are, and a BEFORE INSERT trigger must not rewrite them on the way.
 */
export function planTriggers(context: PrepContext): PrepPart {
  const { names, target, step, source, copy, label, table } = context;
  const part = emptyPart();
  const onCopy = new Set(copy?.triggers ?? []);
  for (const trigger of source.triggers) {
    if (onCopy.has(trigger.name)) continue;
    const definition = retargetTrigger(trigger.definition, table.quoted, target);
    if (definition === undefined) {
      part.warnings.push(`trigger ${trigger.name} could not be recreated (${trigger.definition}); create it on ${names.partitioned.name} by hand, disabled, before the swap.`);
      continue;
    }
    part.steps.push(step(`trigger ${trigger.name} on ${names.partitioned.name}, like on ${label} (disabled until the swap enables it)`, definition));
    part.steps.push(step(`disable trigger ${trigger.name} on ${names.partitioned.name} until the swap`, `ALTER TABLE ${target} DISABLE TRIGGER ${quoteIdent(trigger.name)}`));
    part.notes.push(`trigger ${trigger.name} recreated on ${names.partitioned.name}, disabled; the swap enables it there and disables it on ${names.retired.name}.`);
  }
  return part;
}

/** Row-level security: the policies and the ENABLE/FORCE flags, as on the original. */
export function planRowSecurity(context: PrepContext): PrepPart {
  const { names, target, step, source, copy, label } = context;
  const part = emptyPart();
  const onCopy = new Set(copy?.policies ?? []);
  for (const policy of source.policies) {
    if (onCopy.has(policy.name)) continue;
    const roles = policy.roles.map((role) => (role === 'public' ? 'PUBLIC' : quoteIdent(role))).join(', ');
    part.steps.push(
      step(
        `policy ${policy.name} on ${names.partitioned.name}, as on ${label}`,
        `CREATE POLICY ${quoteIdent(policy.name)} ON ${target} AS ${policy.permissive} FOR ${policy.cmd} TO ${roles}${policy.qual ? ` USING (${policy.qual})` : ''}${policy.with_check ? ` WITH CHECK (${policy.with_check})` : ''}`,
      ),
    );
  }
  if (source.rowSecurity.enabled) part.steps.push(step(`row-level security enabled on ${names.partitioned.name}, as on ${label}`, `ALTER TABLE ${target} ENABLE ROW LEVEL SECURITY`));
  if (source.rowSecurity.forced) part.steps.push(step(`row-level security forced on ${names.partitioned.name}, as on ${label}`, `ALTER TABLE ${target} FORCE ROW LEVEL SECURITY`));
  return part;
}
