/**
 * Who says a device's login is good. The hooks parse a login themselves (a malformed one never
 * leaves the broker); an authority then checks the signature against the device's secret, here
 * (`localAuthority`, secrets from your own store) or at a fleet (`httpAuthority`, the fleet's
 * EMQX-shaped endpoint, so a broker in another process uses the fleet's registry).
 */
import { randomBytes } from 'node:crypto';
import { checkLogin, LoginClaim, MqttLogin } from '../identity';
import type { DeviceRef } from '../protocol';

/**
 * An authority's answer. `refused` is final for this login (CONNACK 5); `unavailable` means it
 * could not decide now (CONNACK 3, "server unavailable": the device tries again later).
 */
export type AuthorityVerdict =
  | { ok: true }
  | { ok: false; refusal: 'unknown device' | 'wrong signature' | 'refused' | 'unavailable'; detail?: string };

export interface Authority {
  /** Names it in log lines. */
  readonly name: string;
  /** Checks a well-formed login. Never rejects: a failure to decide is `unavailable`. */
  check(claim: LoginClaim, login: MqttLogin): Promise<AuthorityVerdict>;
}

export interface LocalAuthorityOptions {
  /** The device's secret (its DeviceSecret), or undefined when there is no such device. */
  secretOf(device: DeviceRef): string | undefined | Promise<string | undefined>;
  /**
   * Values your clients sign without sending them: aliyun-iot-mqtt signs every option it is given,
   * so a client made with `{ regionId: 'cn-shanghai' }` needs `{ regionId: 'cn-shanghai' }` here.
   */
  extraSigned?: Readonly<Record<string, string>>;
}

const UNKNOWN_DEVICE_SECRET = randomBytes(32).toString('hex');

/** Checks logins against secrets this process knows (a file, a database, a Map). */
export function localAuthority(options: LocalAuthorityOptions): Authority {
  return {
    name: 'the local secrets',
    async check(claim) {
      let secret: string | undefined;
      try {
        secret = await options.secretOf({ productKey: claim.productKey, deviceName: claim.deviceName });
      } catch (err) {
        return { ok: false, refusal: 'unavailable', detail: `secretOf failed: ${(err as Error).message}` };
      }
      // An unknown device costs the same HMACs as a known one: the delay does not tell which devices exist.
      const matches = checkLogin(claim, secret ?? UNKNOWN_DEVICE_SECRET, { extraSigned: options.extraSigned });
      if (secret === undefined) return { ok: false, refusal: 'unknown device' };
      return matches ? { ok: true } : { ok: false, refusal: 'wrong signature' };
    },
  };
}
