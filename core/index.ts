/** Public API of the emulator core (used by the runner, the app and the tests). */
export { Simulation, checkInvariants, RESULT_FORMAT, type SimOptions, type SimResult, type Snapshot, type RunStatus } from './engine.ts';
export * from './scenario/types.ts';
export { validateScenario, parseScenarioText, formatErrors, parseIova, parseResult, LIMITS, type ValidationError, type ValidationResult } from './scenario/validate.ts';
export * from './policy/index.ts';
export * from './machines/index.ts';
export { encodeScenario, decodeScenario, parseAppUrl, buildShareUrl, base64urlEncode, base64urlDecode, MAX_LINK_JSON_BYTES, type AppUrlState, type DecodeResult } from './scenario/url.ts';
export { BUILTIN_SCENARIOS, DEFAULT_SCENARIO_ID } from './scenario/builtins/index.ts';
export { dmesgTime } from './kernel/printk.ts';
