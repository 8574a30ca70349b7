/** The fleet domain: no Node-RED here. Nodes and the admin API use `Fleet`; tests and benchmarks too. */
export * from './clock';
export * from './errors';
export * from './states';
export * from './settings';
export * from './types';
export * from './store';
export * from './sqlite-store';
export * from './notices';
export * from './planner';
export * from './transitions';
export { FleetCore, Work, MINUTE } from './core';
export type { FleetSettings, FleetOptions, Outgoing, BatchChange, TaskOutcome, FleetEvents, Touched } from './core';
export * from './fleet';
export { ACTIONS } from './batches';
export type { Action, BatchOptions, ControlOptions } from './batches';
export type { NewFirmware } from './catalog';
