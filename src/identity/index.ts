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
