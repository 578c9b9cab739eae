// The layering rule of DESIGN.md §1, checked on every import in the source tree:
// core imports nothing above it; state imports only core; dsl never imports runtime;
// runtime/client never imports runtime/broker (the client shares only core with the broker).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPOSITORY_ROOT } from './helpers/broker.ts';

function sourceFiles(directory: string): string[] {
  const result: string[] = [];
  for (const entry of readdirSync(directory)) {
    const full = path.join(directory, entry);
    if (statSync(full).isDirectory()) result.push(...sourceFiles(full));
    else if (full.endsWith('.ts')) result.push(full);
  }
  return result;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) found.push(match[1]!);
  for (const match of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(match[1]!);
  return found.filter((specifier) => specifier.startsWith('.')).map((specifier) => path.relative(REPOSITORY_ROOT, path.resolve(path.dirname(file), specifier)));
}

const RULES: { from: string; forbidden: string[] }[] = [
  { from: 'core', forbidden: ['state', 'dsl', 'runtime', 'examples', 'test'] },
  { from: 'state', forbidden: ['dsl', 'runtime', 'examples', 'test'] },
  { from: 'dsl', forbidden: ['runtime', 'examples', 'test'] },
  { from: 'runtime', forbidden: ['examples', 'test'] },
  { from: 'runtime/client', forbidden: ['runtime/broker', 'runtime/cluster'] },
];

describe('layers', () => {
  it('imports point one way only', () => {
    const violations: string[] = [];
    for (const rule of RULES) {
      const root = path.join(REPOSITORY_ROOT, rule.from);
      let files: string[];
      try { files = sourceFiles(root); } catch { continue; }
      for (const file of files) {
        for (const target of importsOf(file)) {
          if (rule.forbidden.some((layer) => target === layer || target.startsWith(`${layer}/`))) {
            violations.push(`${path.relative(REPOSITORY_ROOT, file)} imports ${target}`);
          }
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('core uses no sockets, files or timers', () => {
    const violations: string[] = [];
    // The schema generator is a development tool run by hand; no module imports it.
    const tools = new Set(['core/protocol/generate.ts']);
    for (const file of sourceFiles(path.join(REPOSITORY_ROOT, 'core'))) {
      if (tools.has(path.relative(REPOSITORY_ROOT, file))) continue;
      const text = readFileSync(file, 'utf8');
      if (/from ['"](node:)?(net|fs|fs\/promises|dgram|child_process|http|https)['"]/.test(text)) violations.push(path.relative(REPOSITORY_ROOT, file));
    }
    expect(violations).toEqual([]);
  });
});
