/**
 * Device identity at your own Aedes broker: `require('@mqtt-ota/node-red-contrib-mqtt-ota/broker')`.
 * No Node-RED, no fleet: hooks for `Aedes.createBroker(hooks)` and the authorities they ask.
 */
export { createAedesHooks } from './hooks';
export type { AedesHooks, AedesHooksOptions, BrokerIdentity } from './hooks';
export type { ClientLogin } from './client-logins';
export { filterCovers, topicMatches } from './topic-filters';
export { localAuthority } from './authority';
export type { Authority, AuthorityVerdict, LocalAuthorityOptions } from './authority';
export { httpAuthority } from './http-authority';
export type { HttpAuthorityOptions } from './http-authority';
