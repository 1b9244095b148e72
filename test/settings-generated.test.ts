/**
 * Files generated from the settings table (`npm run gen`) are committed; each must equal a fresh
 * generation, so the docs, the JSON Schema, the props interfaces and ENV never drift from the table.
 */
import * as fs from 'fs';
import * as path from 'path';
import { GENERATED } from '../scripts/gen-settings';

const ROOT = path.resolve(__dirname, '..');

describe('generated from the settings table', () => {
  test.each(GENERATED.map((g) => [g.file, g] as const))('%s is up to date (on failure: npm run gen, and commit)', (file, g) => {
    expect(fs.readFileSync(path.join(ROOT, file), 'utf8')).toBe(g.generate());
  });

  test('every generated file says so and how to regenerate it', () => {
    for (const g of GENERATED) expect(fs.readFileSync(path.join(ROOT, g.file), 'utf8')).toContain('npm run gen');
  });

  test('package.json has the gen script', () => {
    expect(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.gen).toBe('node scripts/run-ts.cjs scripts/gen-settings.ts');
  });
});
