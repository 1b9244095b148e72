/**
 * `extraEnv` of an agent container (`volumeManager.extraEnv`, `uploader.extraEnv`, `injector.extraEnv`): the
 * user's variables appended to what the pipeline sets, with the rules that keep them from undoing it:
 *
 * - a name the pipeline sets on that container (its `env`, and the keys of a ConfigMap it reads with `envFrom`,
 *   which `env` would silently override) is refused: it is a setting of its own;
 * - a literal value of an agent variable that has a prop is refused (set the prop: it is validated, documented
 *   and in the ConfigMap hash); a `valueFrom` is accepted where the pipeline does not set the name (e.g.
 *   `HTTPS_PROXY` with credentials from a Secret);
 * - a literal value of a variable the agent reads is checked with the agent's own rule (the settings table),
 *   so the agent does not stop at start with exit code 2 after a clean synth;
 * - secrets never go into dist/: a literal value is refused for the table's secret variables and for names
 *   that look secret (SECRET_NAME below): use `valueFrom.secretKeyRef`. The value is never echoed.
 */
import type { k8s } from 'cdk8s-plus-28';
import type { Command } from '../agent/src/contract';
import { type EnvVarValue, type Setting, settingOfEnv } from '../agent/src/settings';
import type { ExtraEnvVar } from './generated/settings';
import { prop } from './props';
import { PipelinePropsError, REDACTED } from './validation';

/**
 * Names whose literal value would be a secret in dist/ (matched as whole `_`-separated words, any case), except
 * names of files, paths and folders (`AWS_WEB_IDENTITY_TOKEN_FILE` holds a path, not a token).
 */
export const SECRET_NAME = /^(?!.*_(FILE|PATH|DIR)$).*(^|_)(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIALS?|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY)(_|$)/i;

export interface ExtraEnvOptions {
  /** The setting (volumeManagerExtraEnv, uploaderExtraEnv, injectorExtraEnv): validation and wording. */
  readonly setting: Setting<readonly EnvVarValue[], unknown>;
  /** The agent command the container runs (which table variables it reads). */
  readonly command: Command;
  /** What the pipeline sets on the container: its env ... */
  readonly env: readonly k8s.EnvVar[];
  /**
   * ... and the keys of the ConfigMap it reads with envFrom.
   * @default none
   */
  readonly configMapKeys?: readonly string[];
}

/** The container's `env` followed by the validated extra variables; errors name `extraEnv[<i>].<field>`. */
export function withExtraEnv(value: readonly ExtraEnvVar[] | undefined, o: ExtraEnvOptions): k8s.EnvVar[] {
  const extra = prop(o.setting, value, 'extraEnv');
  const own = new Set([...o.env.map((e) => e.name), ...(o.configMapKeys ?? [])]);
  extra.forEach((e, i) => {
    const at = `extraEnv[${i}]`;
    if (own.has(e.name)) {
      throw new PipelinePropsError(`${at}.name`, e.name, 'a name the pipeline does not set on this container (this variable is a setting of its own)');
    }
    if (e.value === undefined) return;
    const s = settingOfEnv(e.name);
    const read = s !== undefined && (s.readBy ?? []).includes(o.command) ? s : undefined;
    if (s?.secret === true || SECRET_NAME.test(e.name)) {
      throw new PipelinePropsError(`${at}.value`, REDACTED, 'valueFrom.secretKeyRef for a secret: a literal value would be in dist/');
    }
    if (read?.prop !== undefined) {
      throw new PipelinePropsError(`${at}.name`, e.name, `the prop ${read.prop} instead (a literal value of this variable is that setting)`);
    }
    if (read !== undefined && e.value !== '') checkAgentValue(read, e.value, `${at}.value`);
  });
  return [...o.env, ...extra.map((e) => JSON.parse(JSON.stringify(e)) as k8s.EnvVar)];
}

/** A literal value of an agent variable, parsed with the agent's rule. */
function checkAgentValue(s: Setting, value: string, at: string): void {
  const form = s.kind.env!;
  try {
    form.parse(value);
  } catch {
    throw new PipelinePropsError(at, s.kind.redact?.(value) ?? value, `${form.expected} (what ${s.env} accepts)`);
  }
}
