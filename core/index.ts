/** Public API of the emulator core (used by the runner, the app and the tests). */
export { Simulation, checkInvariants, RESULT_FORMAT, type SimOptions, type SimResult, type Snapshot, type RunStatus } from './engine.ts';
export * from './scenario/types.ts';
export { validateScenario, parseScenarioText, formatErrors, parseIova, parseResult, LIMITS, type ValidationError, type ValidationResult } from './scenario/validate.ts';
export * from './policy/index.ts';
export * from './machines/index.ts';
