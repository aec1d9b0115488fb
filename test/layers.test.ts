/**
 * The layers of src/ (docs/architecture.md): cli → commands → provision/maintain/partitions/migrate/archive/verify/demo/bench →
 * strategies and throwaway → core. No file imports from a layer above its own, and no import
 * cycle exists between files. Reads the sources; needs no server.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_DIR } from './helpers/targets.js';

const SRC = path.join(REPO_DIR, 'src');

/** Higher numbers sit higher: a file may import from its own layer or below. */
const LAYERS: Readonly<Record<string, number>> = {
  core: 0,
  strategies: 1,
  throwaway: 1,
  migrate: 2,
  archive: 2,
  verify: 2,
  demo: 2,
  bench: 2,
  citus: 2,
  // what a command does, where other commands and features need it too (demo and bench provision,
  // maintain and create months; migrate reads months as partition create does)
  provision: 2,
  maintain: 2,
  partitions: 2,
  commands: 3,
  // the API: one function per command, around a session (src/api/)
  api: 4,
  // src/cli.ts and src/index.ts
  '': 5,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The layer of a file under src/: its top folder, or '' for the files at the root. */
function layerOf(file: string): string {
  const parts = path.relative(SRC, file).split(path.sep);
  return parts.length === 1 ? '' : parts[0]!;
}

/** Relative imports and re-exports of one file (type-only ones included: they bind layers too), as absolute .ts paths. */
function importsOf(file: string, text = readFileSync(file, 'utf8')): string[] {
  const found: string[] = [];
  const pattern = /^\s*(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/gms;
  for (const match of text.matchAll(pattern)) {
    found.push(path.resolve(path.dirname(file), match[1]!.replace(/\.js$/, '.ts')));
  }
  return found;
}

/** Every edge that climbs: "from → to (layer a → b)". */
function upwardImports(files: readonly string[]): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const from = layerOf(file);
    for (const target of importsOf(file)) {
      const to = layerOf(target);
      const a = LAYERS[from];
      const b = LAYERS[to];
      if (a === undefined || b === undefined) {
        problems.push(`${path.relative(SRC, file)} → ${path.relative(SRC, target)}: folder not in LAYERS (add it, and to docs/architecture.md)`);
      } else if (b > a) {
        problems.push(`${path.relative(SRC, file)} → ${path.relative(SRC, target)} (${from || 'root'} → ${to || 'root'})`);
      }
    }
  }
  return problems;
}

/** The first import cycle found, as a list of files, or undefined. */
function findCycle(files: readonly string[], edges: (file: string) => readonly string[]): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'open') return [...stack.slice(stack.indexOf(file)), file];
    state.set(file, 'open');
    stack.push(file);
    for (const next of edges(file)) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const file of files) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('layers of src/', () => {
  const files = sourceFiles(SRC);

  it('finds the sources and their imports', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(importsOf(path.join(SRC, 'commands', 'provision.ts'))).toContain(path.join(SRC, 'core', 'config.ts'));
  });

  it('no file imports from a layer above its own', () => {
    expect(upwardImports(files)).toEqual([]);
  });

  it('no import cycle between files', () => {
    const cycle = findCycle(files, (file) => importsOf(file));
    expect(cycle?.map((file) => path.relative(SRC, file))).toBeUndefined();
  });

  it('no command module imports another command module (what two commands share lives below them)', () => {
    const commandsDir = path.join(SRC, 'commands');
    const index = path.join(commandsDir, 'index.ts');
    const crossings = files
      .filter((file) => path.dirname(file) === commandsDir && file !== index)
      .flatMap((file) => importsOf(file).filter((target) => path.dirname(target) === commandsDir).map((target) => `${path.basename(file)} -> ${path.basename(target)}`));
    expect(crossings).toEqual([]);
    // The check sees such an import when there is one.
    expect(importsOf(path.join(commandsDir, 'demo.ts'), "import { provision } from './provision.js';\n")).toEqual([path.join(commandsDir, 'provision.ts')]);
  });

  it('the checks catch an upward import and a cycle', () => {
    // A core file that imported a command would climb; two files importing each other are a cycle.
    const core = path.join(SRC, 'core', 'x.ts');
    const command = path.join(SRC, 'commands', 'y.ts');
    const edges: Record<string, string[]> = {
      [core]: importsOf(core, "import { provision } from '../commands/y.js';\n"),
      [command]: importsOf(command, "import type { Config } from '../core/x.js';\n"),
    };
    expect(edges[core]).toEqual([command]);
    expect(LAYERS[layerOf(edges[core]![0]!)]! > LAYERS[layerOf(core)]!).toBe(true);
    expect(findCycle([core, command], (file) => edges[file] ?? [])).toEqual([core, command, core]);
  });
});
