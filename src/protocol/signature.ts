/**
 * `digestsign`, the package signature of a notice. No SDK in scope checks it, so this package
 * defines it: the base64 Ed25519 signature over the package's raw 32-byte SHA-256 digest. Keys
 * travel as base64 DER: the private key PKCS#8, the public key SPKI.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign, verify } from 'node:crypto';
import { ProtocolError } from './errors';

export interface SigningKeyPair {
  publicKey: string;
  privateKey: string;
}

export function generateSigningKeyPair(): SigningKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
  };
}

export function readPrivateKey(field: string, base64: string): KeyObject {
  try {
    const key = createPrivateKey({ key: Buffer.from(base64.trim(), 'base64'), format: 'der', type: 'pkcs8' });
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
    return key;
  } catch {
    throw new ProtocolError(
      field,
      'an Ed25519 private key (base64 PKCS#8 DER, as "Generate key pair" makes)',
      '(hidden)',
    );
  }
}

export function readPublicKey(field: string, base64: string): KeyObject {
  try {
    const key = createPublicKey({ key: Buffer.from(base64.trim(), 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
    return key;
  } catch {
    throw new ProtocolError(field, 'an Ed25519 public key (base64 SPKI DER, as the fleet shows it)', base64);
  }
}

export function signPackageDigest(privateKey: KeyObject, sha256hex: string): string {
  return sign(null, Buffer.from(sha256hex, 'hex'), privateKey).toString('base64');
}

export function checkPackageSignature(
  publicKey: KeyObject,
  sha256hex: string,
  signature: string | undefined,
): { ok: true } | { ok: false; reason: string } {
  if (!signature)
    return { ok: false, reason: 'the notice carries no digestsign, and this device requires signed packages' };
  let valid: boolean;
  try {
    valid = verify(null, Buffer.from(sha256hex, 'hex'), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    valid = false;
  }
  return valid
    ? { ok: true }
    : {
        ok: false,
        reason:
          'the package signature (digestsign) does not match the package: it was tampered with or signed by another key',
      };
}
