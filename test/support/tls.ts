/**
 * A test-made CA and a server certificate for 127.0.0.1 (openssl CLI), for loopback HTTPS servers
 * that stand in for real ones (e.g. the Kubernetes API server). Files live in a temp folder.
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';

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

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

/** A CA and a server cert with subjectAltName IP:127.0.0.1 and DNS:localhost, valid for a day. */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'test-tls-'));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt',
    '-days', '1', '-subj', '/CN=heapdump test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'], dir);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'ext.cnf'], dir);
  return {
    dir,
    ca: readFileSync(path.join(dir, 'ca.crt')),
    cert: readFileSync(path.join(dir, 'server.crt')),
    key: readFileSync(path.join(dir, 'server.key')),
    caFile: path.join(dir, 'ca.crt'),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
