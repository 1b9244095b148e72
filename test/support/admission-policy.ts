/** Evaluates the dump-volume admission policy (lib/admission-policy.ts) with @bufbuild/cel, as the API server would. */
import { type CelInput, isCelError, run } from '@bufbuild/cel';
import type { DumpVolumePolicy } from '../../lib/admission-policy';

/** JSON as the API server hands it to CEL: objects are maps with string keys. */
export function toCel(v: unknown): CelInput {
  if (Array.isArray(v)) return v.map(toCel) as CelInput;
  if (v !== null && typeof v === 'object') return new Map(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, toCel(x)])) as CelInput;
  return v as CelInput;
}

/** The messages of the validations that do not hold for `pod` (an evaluation error refuses, as with failurePolicy Fail). */
export function policyRefusals(policy: DumpVolumePolicy, pod: unknown): string[] {
  const object = toCel(pod);
  const variables = new Map<string, CelInput>();
  for (const v of policy.variables) {
    const value = run(v.expression, { object, variables });
    if (isCelError(value)) throw new Error(`variable ${v.name}: ${value.message}`);
    variables.set(v.name, value as CelInput);
  }
  const out: string[] = [];
  for (const check of policy.validations) {
    const r = run(check.expression, { object, variables });
    if (isCelError(r)) out.push(`error: ${r.message}`);
    else if (r !== true) out.push(check.message);
  }
  return out;
}
