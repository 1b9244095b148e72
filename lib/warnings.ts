/**
 * Synth-time warnings. Constructs record them as construct metadata (no console output from a
 * construct); the app that synthesizes (main.ts) prints them, and tests read them back.
 */
import { IConstruct } from 'constructs';

const WARNING = 'heapdump-pipeline:warning';

export function addWarning(scope: IConstruct, message: string): void {
  scope.node.addMetadata(WARNING, message);
}

/** Every warning recorded under `root`, prefixed with the construct path it came from. */
export function collectWarnings(root: IConstruct): string[] {
  return root.node.findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === WARNING).map((m) => `[${c.node.path}] ${String(m.data)}`));
}
