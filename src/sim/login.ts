/**
 * Signed logins: a device with a secret logs in as iotkit-embedded 3.x does (the shape of a real
 * 3.2 run), so the simulator can be tried against a broker that authenticates devices.
 */
import { signLogin } from '../identity';
import { DeviceRef } from '../protocol';
import { ClientLogin, LoginOf } from './link';
import { deviceSecretOf, SimOptions } from './options';

/** The C SDKs' fixed timestamp (2050-01-01), signed with the rest. */
export const SIM_LOGIN_TIMESTAMP = '2524608000000';

/**
 * Client id `pk.dn|timestamp=2524608000000,securemode=3,signmethod=hmacsha256,_v=ota-sim,lan=C,_ss=1,gw=0,ext=0|`,
 * user `dn&pk`, password the HMAC-SHA256 of clientId, deviceName, productKey and timestamp.
 * `clientId` replaces `pk.dn` (the broker probe has its own).
 */
export function simLogin(device: DeviceRef, deviceSecret: string, clientId?: string): Required<ClientLogin> {
  return signLogin({
    productKey: device.productKey,
    deviceName: device.deviceName,
    deviceSecret,
    clientId,
    timestamp: SIM_LOGIN_TIMESTAMP,
    signmethod: 'hmacsha256',
    securemode: '3',
    extra: { _v: 'ota-sim', lan: 'C', _ss: '1', gw: '0', ext: '0' },
  });
}

/** Each device's signed login, or undefined when the options give no secrets. */
export function signedLogins(options: Pick<SimOptions, 'secrets' | 'deviceSecret'>): LoginOf | undefined {
  if (options.secrets === undefined && options.deviceSecret === undefined) return undefined;
  return (device) => {
    const secret = deviceSecretOf(options, device.productKey, device.deviceName);
    return secret === undefined ? undefined : simLogin(device, secret);
  };
}
