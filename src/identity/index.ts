/** Release identity: the signed release manifest that binds a package to its place in a fleet's history. Pure. */
export {
  canonicalManifest,
  checkManifest,
  checkReleaseManifest,
  installedSequenceKey,
  MANIFEST_HEADER,
  MANIFEST_KEYS,
  nextInstalledSequences,
  parseManifest,
  signManifest,
} from './manifest';
export type { ManifestCheck, ManifestCheckInput, ManifestCheckName, ReleaseManifest } from './manifest';

/** Device identity on the broker: Alibaba's signed MQTT login, and each device's topic rights. Pure. */
export { checkLogin, LOGIN_META_KEYS, loginSignContent, parseLogin, signLogin } from './login';
export type { LoginCheckOptions, LoginClaim, LoginSignMethod, MqttLogin, SignLoginInput } from './login';
export { mayPublish, maySubscribe } from './topic-rights';
