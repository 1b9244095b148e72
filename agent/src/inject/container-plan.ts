/**
 * What collectPod does to one instrumented container: the per-pod mount, the pod-identity env and the JVM
 * options, planned first (a conflict skips the container whole, before anything is changed), then applied.
 */
import { POD_DUMP_SUBPATH_EXPR } from '../contract';
import type { Resolved } from './collect-options';
import type { Container, EnvVar } from './pod-types';
import { isFieldRef, podIdentityEnv } from './wait-ready';

/** JVM options variables collectPod may extend, in the order they are looked for. */
export const JAVA_OPTIONS_ENVS = ['JAVA_TOOL_OPTIONS', 'JDK_JAVA_OPTIONS'] as const;
export type JavaOptionsEnv = (typeof JAVA_OPTIONS_ENVS)[number];

/** The JVM options every instrumented container gets (before respecting what it already has). */
export function jvmOptions(mountPath: string, gzipLevel?: number): string[] {
  return [
    '-XX:+HeapDumpOnOutOfMemoryError',
    `-XX:HeapDumpPath=${mountPath}`,
    '-XX:+ExitOnOutOfMemoryError',
    ...(gzipLevel ? [`-XX:HeapDumpGzipLevel=${gzipLevel}`] : []),
  ];
}

/** The value of `-XX:[+-]Name` / `-XX:Name=value` in an options string, or undefined when absent. */
export function findJvmOption(options: string, name: string): string | undefined {
  const re = new RegExp(`(?:^|\\s)(-XX:(?:[+-]${name}|${name}=\\S*))(?=\\s|$)`);
  return re.exec(options)?.[1];
}

/** What one container needs, decided before anything is changed (a conflict skips the container whole). */
export interface ContainerPlan {
  readonly container: Container;
  readonly addMount: boolean;
  readonly addEnv: readonly EnvVar[];
  readonly options?: { readonly name: string; readonly value: string; readonly existing: boolean };
}

export function planContainer(c: Container, volumeName: string, r: Resolved, javaEnvHint: string | undefined, warnings: string[]): ContainerPlan | undefined {
  const who = `container "${c.name}"`;
  const mounts = c.volumeMounts ?? [];
  const ours = mounts.find((m) => m.name === volumeName);
  let addMount = false;
  if (ours !== undefined) {
    if (ours.subPathExpr !== POD_DUMP_SUBPATH_EXPR || ours.subPath !== undefined) {
      warnings.push(`${who} already mounts the dump volume without the per-pod subPathExpr ${POD_DUMP_SUBPATH_EXPR}: left as is (the admission policy rejects such a pod)`);
    }
  } else if (mounts.some((m) => m.mountPath.replace(/\/+$/, '') === r.mountPath)) {
    warnings.push(`${who} already has a volume at ${r.mountPath}: not instrumented (choose another dump path)`);
    return undefined;
  } else {
    addMount = true;
  }

  const env = c.env ?? [];
  const addEnv: EnvVar[] = [];
  for (const want of podIdentityEnv()) {
    const have = env.find((e) => e.name === want.name);
    if (have === undefined) addEnv.push(want);
    else if (!isFieldRef(have, want.valueFrom!.fieldRef!.fieldPath)) {
      warnings.push(`${who} sets ${want.name} to something other than the fieldRef ${want.valueFrom!.fieldRef!.fieldPath}: not instrumented`);
      return undefined;
    }
  }

  // Which variable carries the JVM options: the one the container already uses, else the pod's hint, else JAVA_TOOL_OPTIONS.
  const existing = JAVA_OPTIONS_ENVS.map((n) => env.find((e) => e.name === n)).find((e) => e !== undefined);
  const name = existing?.name ?? (javaEnvHint as JavaOptionsEnv | undefined) ?? 'JAVA_TOOL_OPTIONS';
  let options: ContainerPlan['options'];
  if (existing?.valueFrom !== undefined) {
    warnings.push(`${who}: ${name} comes from valueFrom and cannot be extended: add ${jvmOptions(r.mountPath, r.gzipLevel).join(' ')} to it yourself`);
  } else {
    const current = existing?.value ?? '';
    const add: string[] = [];
    for (const opt of jvmOptions(r.mountPath, r.gzipLevel)) {
      const optName = /^-XX:[+-]?([A-Za-z]+)/.exec(opt)![1];
      const present = findJvmOption(current, optName);
      if (present === undefined) add.push(opt);
      else if (present !== opt) {
        warnings.push(`${who}: ${name} already has ${present}: left as is${optName === 'HeapDumpPath' ? ` (dumps outside ${r.mountPath} are not collected)` : ''}`);
      }
    }
    if (add.length > 0) {
      const value = current.trim() === '' ? add.join(' ') : `${current.replace(/\s+$/, '')} ${add.join(' ')}`;
      options = { name, value, existing: existing !== undefined };
    }
  }
  return { container: c, addMount, addEnv, options };
}

export function applyPlan(p: ContainerPlan, volumeName: string, r: Resolved): void {
  const c = p.container;
  if (p.addMount) {
    c.volumeMounts = [...(c.volumeMounts ?? []), { name: volumeName, mountPath: r.mountPath, subPathExpr: POD_DUMP_SUBPATH_EXPR, mountPropagation: 'HostToContainer' }];
  }
  if (p.addEnv.length > 0 || p.options !== undefined) {
    let env = [...(c.env ?? []), ...p.addEnv];
    if (p.options !== undefined) {
      const { name, value, existing } = p.options;
      env = existing ? env.map((e) => (e.name === name ? { ...e, value } : e)) : [...env, { name, value }];
    }
    c.env = env;
  }
}

