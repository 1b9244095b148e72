/**
 * Serving certificates of the pipeline's HTTPS Services: on OpenShift the service CA writes the Secret when the
 * Service carries OPENSHIFT_SERVING_CERT; on Kubernetes cert-manager does, from a self-signed root made only for
 * that Service (Issuer -> CA Certificate -> CA Issuer -> serving Certificate).
 */
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';

export const OPENSHIFT_SERVING_CERT = 'service.beta.openshift.io/serving-cert-secret-name';

export function certManagerServingCert(scope: Construct, o: { namespace: string; name: string; labels: Record<string, string>; certificate: string; secretName: string }): void {
  const { namespace, name, labels } = o;
  const issuer = (n: string, spec: Record<string, unknown>) => ({ apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: n, namespace, labels }, spec });
  new ApiObject(scope, 'SelfSignedIssuer', issuer(`${name}-selfsigned`, { selfSigned: {} }));
  new ApiObject(scope, 'CaCertificate', {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name: `${name}-ca`, namespace, labels },
    spec: {
      isCA: true,
      commonName: `${name}-ca`,
      secretName: `${name}-ca`,
      duration: '87600h',
      privateKey: { algorithm: 'ECDSA', size: 256 },
      issuerRef: { name: `${name}-selfsigned`, kind: 'Issuer', group: 'cert-manager.io' },
    },
  });
  new ApiObject(scope, 'CaIssuer', issuer(`${name}-ca`, { ca: { secretName: `${name}-ca` } }));
  new ApiObject(scope, 'ServingCertificate', {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name: o.certificate, namespace, labels },
    spec: {
      secretName: o.secretName,
      dnsNames: [`${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`],
      duration: '2160h',
      renewBefore: '360h',
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      usages: ['server auth', 'digital signature'],
      issuerRef: { name: `${name}-ca`, kind: 'Issuer', group: 'cert-manager.io' },
    },
  });
}
