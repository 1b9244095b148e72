/**
 * S3_CA_BUNDLE_FILE: the extra certificate authorities the uploader trusts for the S3 endpoint (an on-premises
 * S3 behind a private CA; on OpenShift the cluster's trusted CA bundle). Read once at start, so a bad mount
 * stops the agent with one line (exit code 2) instead of every upload failing with a TLS error.
 */
import { X509Certificate } from 'crypto';
import { readFileSync } from 'fs';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Why a bundle is unusable (one phrase that follows the file's name). */
export class CaBundleError extends Error {}

/** The PEM certificates of `file`, each parsed; throws CaBundleError when it cannot be read or has none. */
export function readCaBundle(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CaBundleError(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const certs = text.match(PEM_CERTIFICATE) ?? [];
  if (certs.length === 0) throw new CaBundleError('has no PEM certificate (-----BEGIN CERTIFICATE-----)');
  certs.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new CaBundleError(`has an unreadable certificate (#${i + 1}: ${(err as Error).message})`);
    }
  });
  return certs.join('\n');
}
