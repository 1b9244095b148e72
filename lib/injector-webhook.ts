import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { INJECT_HTTPS } from '../agent/src/contract';
import type { Platform } from './generated/settings';
import { COLLECT_NAMESPACE_LABEL, makeClusterScoped, NAMESPACE_NAME_LABEL, NO_NAMESPACE, PART_OF } from './labels';
import { checkDnsLabel, checkDnsSubdomain, PipelinePropsError } from './validation';

/** The webhook's name (a qualified name: at least three segments). */
export const INJECT_WEBHOOK_NAME = 'inject.heapdump-pipeline.io';
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
}

/**
 * The MutatingWebhookConfiguration of the injector: pod CREATE only, failurePolicy Ignore (a broken injector never
 * blocks a rollout), sideEffects None, reinvocationPolicy IfNeeded (collectPod is idempotent), a short timeout.
 * The namespaceSelector needs BOTH the collection label and a name in `namespaces` (and never the pipeline's):
 * a label alone could be set on a namespace without the application SCC's RoleBinding, whose pods the SCC plugin
 * would then refuse after injection (docs/injection.md). No objectSelector: pods opt in or out by annotation
 * (`heapdump-pipeline.io/inject`), which the server reads itself (a selector can only match labels).
 */
export class InjectorWebhook extends Construct {
  public readonly configurationName: string;

  public constructor(scope: Construct, id: string, props: InjectorWebhookProps) {
    super(scope, id);
    this.configurationName = checkDnsSubdomain('name', props.name ?? 'heapdump-pipeline-inject');
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
  }
}
