/** The device simulator, for code (demo, benchmarks); the command line is cli.ts. */
export { HELP, parseArgs } from './args';
export type { ParsedArgs } from './args';
export { FAULT_FLAGS, FAULT_NAMES, NO_FAULTS, assignFaults } from './faults';
export type { FaultName, FaultPlan, FaultSpec } from './faults';
export { DEFAULT_TIMING, OptionError, deviceName, deviceSecretOf, simOptions } from './options';
export { SIM_LOGIN_TIMESTAMP, simLogin } from './login';
export { readSecrets, secretKey, SecretsError } from './secrets';
export type { DeviceSecrets } from './secrets';
export type { SimOptions, SimOptionsInput, SimTiming } from './options';
export { formatLine, formatTable, jsonReport } from './report';
export type { RunInfo } from './report';
export { Simulation } from './simulation';
export type { SimulationDeps, SimulationEvents } from './simulation';
export { BUSY_STATES, SIM_STATES } from './states';
export type { DeviceSnapshot, SimState, SimSummary } from './states';
export { systemTimers } from './timers';
export type { SimTimers } from './timers';
export { wrongVersion } from './device';
