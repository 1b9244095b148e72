/**
 * Measurements a test reports for the record (build and install times, sizes, how many times an attack
 * raced, fault-matrix rows): appended to `.build/test-notes.log` with the test file's name, not printed, so
 * a passing run shows jest's summary and nothing else. `TEST_NOTES=1` prints them as well.
 */
import * as fs from 'fs';
import * as path from 'path';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const NOTES_FILE = path.join(REPO_ROOT, '.build', 'test-notes.log');

export function note(text: string): void {
  const testPath = (globalThis as { expect?: { getState?: () => { testPath?: string } } }).expect?.getState?.().testPath;
  const where = testPath !== undefined ? path.relative(REPO_ROOT, testPath) : '?';
  fs.mkdirSync(path.dirname(NOTES_FILE), { recursive: true });
  fs.appendFileSync(NOTES_FILE, `${new Date().toISOString()} ${where}: ${text}\n`);
  if (process.env.TEST_NOTES === '1') process.stdout.write(`${where}: ${text}\n`);
}
