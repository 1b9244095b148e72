/**
 * Certificates made by the tests with the openssl CLI: a throw-away CA, and server certificates it signs
 * for given DNS names and 127.0.0.1 (loopback HTTPS servers standing in for real ones: the webhook's
 * Service, the Kubernetes API server). Keys are P-256, valid for a day.
 */
import { execFileSync } from 'child_process';
import { X509Certificate } from 'crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';

export interface TestCa {
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM, for a client's `ca`. */
  readonly certPem: string;
}

export interface ServerCert {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** sha256 fingerprint as Node's getPeerCertificate().fingerprint256 shows it. */
  readonly fingerprint256: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

export function makeCa(dir: string, name = 'heapdump test CA'): TestCa {
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certFile, keyFile, certPem: readFileSync(certFile, 'utf8') };
}

/** A server certificate for `dnsNames` (the first is the CN) and 127.0.0.1, written as `<base>.crt` / `<base>.key`. */
export function issueServerCert(ca: TestCa, dir: string, dnsNames: readonly string[], base = 'tls'): ServerCert {
  const keyFile = path.join(dir, `${base}.key`);
  const csrFile = path.join(dir, `${base}.csr`);
  const certFile = path.join(dir, `${base}.crt`);
  const extFile = path.join(dir, `${base}.ext`);
  writeFileSync(extFile, [
    `subjectAltName=${[...dnsNames.map((d) => `DNS:${d}`), 'IP:127.0.0.1'].join(',')}`,
    'extendedKeyUsage=serverAuth',
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
  ].join('\n'));
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${dnsNames[0]}`]);
  openssl(['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '1', '-extfile', extFile]);
  const certPem = readFileSync(certFile, 'utf8');
  return { certFile, keyFile, certPem, keyPem: readFileSync(keyFile, 'utf8'), fingerprint256: new X509Certificate(certPem).fingerprint256 };
}

export interface ClientCert {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A client certificate (extendedKeyUsage clientAuth) with common name `cn`, e.g. the aggregator's `front-proxy-client`. */
export function issueClientCert(ca: TestCa, dir: string, cn: string, base = 'client'): ClientCert {
  const keyFile = path.join(dir, `${base}.key`);
  const csrFile = path.join(dir, `${base}.csr`);
  const certFile = path.join(dir, `${base}.crt`);
  const extFile = path.join(dir, `${base}.ext`);
  writeFileSync(extFile, ['extendedKeyUsage=clientAuth', 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature'].join('\n'));
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${cn}`]);
  openssl(['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '1', '-extfile', extFile]);
  return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
}

export interface TestCertificates {
  readonly dir: string;
  /** PEM of the CA that signed `cert` (what a client trusts). */
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Path of the CA PEM. */
  readonly caFile: string;
  dispose(): void;
}

/** A CA and a server certificate for 127.0.0.1 and localhost in a temp folder of their own. */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'test-tls-'));
  const ca = makeCa(dir);
  const server = issueServerCert(ca, dir, ['localhost'], 'server');
  return {
    dir,
    ca: Buffer.from(ca.certPem),
    cert: Buffer.from(server.certPem),
    key: Buffer.from(server.keyPem),
    caFile: ca.certFile,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
