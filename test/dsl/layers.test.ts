// The streams folders keep DESIGN.md's arrows: core is pure, state never reaches up to dsl or
// runtime, and dsl never imports runtime (the runtime sees only the plain-data Topology).
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

function sources(folder: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, folder))) {
    const path = join(folder, entry);
    if (statSync(join(root, path)).isDirectory()) found.push(...sources(path));
    else if (entry.endsWith('.ts')) found.push(path);
  }
  return found;
}

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/(?:import|export)[^'"]*from\s+'([^']+)'/g)].map((match) => match[1] ?? '');
}

/** The top-level folder an import lands in, or the package name for bare imports. */
function target(file: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier;
  return relative(root, join(root, file, '..', specifier)).split('/')[0] ?? '';
}

const rules: { folder: string; forbidden: readonly string[] }[] = [
  { folder: 'core/topology', forbidden: ['state', 'dsl', 'runtime', 'node:fs', 'node:net', 'node:timers'] },
  { folder: 'core/serdes', forbidden: ['state', 'dsl', 'runtime', 'node:fs', 'node:net', 'node:timers'] },
  { folder: 'state/stores', forbidden: ['dsl', 'runtime', 'node:net'] },
  { folder: 'dsl', forbidden: ['runtime', 'node:fs', 'node:net'] },
];

describe('layering of the streams folders', () => {
  for (const rule of rules) {
    it(`${rule.folder} imports nothing from ${rule.forbidden.join(', ')}`, () => {
      const files = sources(rule.folder);
      expect(files.length).toBeGreaterThan(0);
      const violations = files.flatMap((file) => imports(file).filter((specifier) => rule.forbidden.includes(target(file, specifier))).map((specifier) => `${file} -> ${specifier}`));
      expect(violations).toEqual([]);
    });
  }

  // The engine and the client both partition keys with core/partitioner.ts. Only
  // the parts that talk to a broker (the application runtime in app/ and the reset tool) use it.
  it('dsl and the runtime/streams engine never import runtime/client', () => {
    const brokerFacing = (file: string): boolean => file.startsWith('runtime/streams/app/') || file === 'runtime/streams/reset.ts';
    const files = [...sources('dsl'), ...sources('runtime/streams').filter((file) => !brokerFacing(file))];
    const violations = files.flatMap((file) =>
      imports(file)
        .filter((specifier) => specifier.startsWith('.') && relative(root, join(root, file, '..', specifier)).startsWith('runtime/client'))
        .map((specifier) => `${file} -> ${specifier}`),
    );
    expect(violations).toEqual([]);
  });
});
