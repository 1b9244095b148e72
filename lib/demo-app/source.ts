/**
 * The demo application's Java source, shipped in a ConfigMap. Read from the file next to this
 * module so the .java file stays the single source of truth (the end-to-end test compiles the same
 * file with the installed JDK). A bundle of the constructs finds a copy next to itself or in demo-app/.
 */
import * as fs from 'fs';
import * as path from 'path';

export const DEMO_APP_FILE_NAME = 'Leak.java';

export function demoAppSourcePath(): string {
  const candidates = [path.join(__dirname, DEMO_APP_FILE_NAME), path.join(__dirname, 'demo-app', DEMO_APP_FILE_NAME)];
  const found = candidates.find((p) => fs.existsSync(p));
  if (found === undefined) throw new Error(`demo application source not found; looked at ${candidates.join(', ')}`);
  return found;
}

export function demoAppSource(): string {
  return fs.readFileSync(demoAppSourcePath(), 'utf8');
}
