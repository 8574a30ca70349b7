/** The pure OTA codec: topics and payloads parsed, built and validated. No I/O beyond digests, no Node-RED. */
export * from './errors';
export * from './topics';
export * from './json';
export * from './fields';
export * from './reports';
export * from './notice';
export * from './download';
export * from './digest';
export * from './messages';
export * from './inbound';
export * from './targets';
export * from './verify';
export * from './signature';
