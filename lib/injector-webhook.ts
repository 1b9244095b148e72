import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { INJECT_HTTPS, WAIT_READY_CONTAINER_NAME } from '../agent/src/contract';
import type { Platform } from './generated/settings';
import { COLLECT_NAMESPACE_LABEL, makeClusterScoped, NAMESPACE_NAME_LABEL, NO_NAMESPACE, PART_OF } from './labels';
import { checkDnsLabel, checkDnsSubdomain, PipelinePropsError } from './validation';

/** The webhook's name (a qualified name: at least three segments). */
export const INJECT_WEBHOOK_NAME = 'inject.heapdump-pipeline.io';
/** The exec guard's webhook (ValidatingWebhookConfiguration). */
export const EXEC_GUARD_WEBHOOK_NAME = 'exec-guard.heapdump-pipeline.io';
/**
 * Only exec/attach into the wait-ready container reaches the exec guard: every other exec in a collected
 * namespace is never sent to the injector (so its failurePolicy Fail holds for that one container only). For a
 * CONNECT the API server's `object` is the options (PodExecOptions / PodAttachOptions).
 */
export const EXEC_GUARD_MATCH = `request.subResource in ['exec', 'attach'] && object != null && has(object.container) && object.container == '${WAIT_READY_CONTAINER_NAME}'`;
/** OpenShift service CA: the annotation that makes it inject its CA bundle into the webhook configuration. */
export const OPENSHIFT_INJECT_CABUNDLE_ANNOTATION = 'service.beta.openshift.io/inject-cabundle';
/** cert-manager's cainjector: the annotation naming the Certificate whose CA goes into the webhook configuration. */
export const CERT_MANAGER_INJECT_CA_ANNOTATION = 'cert-manager.io/inject-ca-from';

export interface InjectorWebhookProps {
  /**
   * Name of the MutatingWebhookConfiguration (cluster-scoped).
   * @default 'heapdump-pipeline-inject'
   */
  readonly name?: string;
  /** The injector's Service ... */
  readonly serviceName: string;
  /** ... in the pipeline namespace (never mutated). */
  readonly pipelineNamespace: string;
  /** The collected namespaces: the only ones whose pods are sent to the webhook. */
  readonly namespaces: readonly string[];
  /** @default 'openshift' */
  readonly platform?: Platform;
  /** Kubernetes: the cert-manager Certificate whose CA is injected (`<namespace>/<name>`). @default none (required on Kubernetes) */
  readonly certificateName?: string;
  /** @default 5 */
  readonly timeoutSeconds?: number;
  /**
   * The value of the namespaces' collection label this webhook selects (the pipeline's name).
   * @default 'true'
   */
  readonly collectLabelValue?: string;
  /**
   * Name of the exec guard's ValidatingWebhookConfiguration (cluster-scoped).
   * @default 'heapdump-pipeline-exec-guard'
   */
  readonly execGuardName?: string;
}

/**
 * The MutatingWebhookConfiguration of the injector: pod CREATE only, failurePolicy Ignore (a broken injector never
 * blocks a rollout), sideEffects None, reinvocationPolicy IfNeeded (collectPod is idempotent), a short timeout.
 * The namespaceSelector needs BOTH the collection label and a name in `namespaces` (and never the pipeline's):
 * a label alone could be set on a namespace without the application SCC's RoleBinding, whose pods the SCC plugin
 * would then refuse after injection (docs/injection.md). No objectSelector: pods opt in or out by annotation
 * (`heapdump-pipeline.io/inject`), which the server reads itself (a selector can only match labels).
 *
 * And the exec guard, a ValidatingWebhookConfiguration served by the same injector: CONNECT on pods/exec and
 * pods/attach into `heapdump-wait-ready` in the collected namespaces is refused (that container sees the node's
 * whole dump tree while it runs; the admission policy cannot see a CONNECT). failurePolicy Fail, and a
 * matchCondition so that no other exec ever waits for the injector (docs/security.md).
 */
export class InjectorWebhook extends Construct {
  public readonly configurationName: string;
  public readonly execGuardName: string;

  public constructor(scope: Construct, id: string, props: InjectorWebhookProps) {
    super(scope, id);
    this.configurationName = checkDnsSubdomain('name', props.name ?? 'heapdump-pipeline-inject');
    this.execGuardName = checkDnsSubdomain('execGuardName', props.execGuardName ?? 'heapdump-pipeline-exec-guard');
    const platform = props.platform ?? 'openshift';
    const pipelineNamespace = checkDnsLabel('pipelineNamespace', props.pipelineNamespace);
    const namespaces = props.namespaces.map((n, i) => checkDnsLabel(`namespaces[${i}]`, n));
    if (namespaces.includes(pipelineNamespace)) throw new PipelinePropsError('namespaces', pipelineNamespace, 'not the pipeline\'s own namespace');
    const annotations: Record<string, string> = {};
    if (platform === 'openshift') annotations[OPENSHIFT_INJECT_CABUNDLE_ANNOTATION] = 'true';
    else {
      if (props.certificateName === undefined) throw new PipelinePropsError('certificateName', undefined, 'the cert-manager Certificate on Kubernetes');
      annotations[CERT_MANAGER_INJECT_CA_ANNOTATION] = `${pipelineNamespace}/${checkDnsSubdomain('certificateName', props.certificateName)}`;
    }

    makeClusterScoped(new k8s.KubeMutatingWebhookConfiguration(this, 'Resource', {
      metadata: { name: this.configurationName, labels: { 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/component': 'inject' }, annotations },
      webhooks: [{
        name: INJECT_WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig: { service: { name: checkDnsLabel('serviceName', props.serviceName), namespace: pipelineNamespace, path: INJECT_HTTPS.mutatePods, port: 443 } },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
        failurePolicy: 'Ignore',
        matchPolicy: 'Equivalent',
        sideEffects: 'None',
        timeoutSeconds: props.timeoutSeconds ?? 5,
        reinvocationPolicy: 'IfNeeded',
        namespaceSelector: {
          matchLabels: { [COLLECT_NAMESPACE_LABEL]: props.collectLabelValue ?? 'true' },
          matchExpressions: [
            // No namespace listed: `In` with an empty list is invalid; a value no namespace name can have (a dot) matches nothing.
            { key: NAMESPACE_NAME_LABEL, operator: 'In', values: namespaces.length > 0 ? namespaces : [NO_NAMESPACE] },
            { key: NAMESPACE_NAME_LABEL, operator: 'NotIn', values: [pipelineNamespace] },
          ],
        },
      }],
    }));

    // By name only (no label): wherever the application SCC is granted, whatever the namespace's label says.
    makeClusterScoped(new k8s.KubeValidatingWebhookConfiguration(this, 'ExecGuard', {
      metadata: { name: this.execGuardName, labels: { 'app.kubernetes.io/part-of': PART_OF, 'app.kubernetes.io/component': 'inject' }, annotations },
      webhooks: [{
        name: EXEC_GUARD_WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig: { service: { name: checkDnsLabel('serviceName', props.serviceName), namespace: pipelineNamespace, path: INJECT_HTTPS.validateExec, port: 443 } },
        rules: [{ operations: ['CONNECT'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods/exec', 'pods/attach'], scope: 'Namespaced' }],
        matchConditions: [{ name: 'into-heapdump-wait-ready', expression: EXEC_GUARD_MATCH }],
        failurePolicy: 'Fail',
        matchPolicy: 'Equivalent',
        sideEffects: 'None',
        timeoutSeconds: props.timeoutSeconds ?? 5,
        namespaceSelector: {
          matchExpressions: [
            { key: NAMESPACE_NAME_LABEL, operator: 'In', values: namespaces.length > 0 ? namespaces : [NO_NAMESPACE] },
            { key: NAMESPACE_NAME_LABEL, operator: 'NotIn', values: [pipelineNamespace] },
          ],
        },
      }],
    }));
  }
}
