/** Public API of the emulator core (used by the runner, the app and the tests). */
export {
  Simulation,
  checkInvariants,
  RESULT_FORMAT,
  DEFAULT_MAX_COMMANDS,
  DEFAULT_MAX_EVENTS,
  type SimOptions,
  type SimResult,
  type Snapshot,
  type RunStatus,
} from './engine.ts';
export * from './scenario/types.ts';
export {
  tooDeep,
  MAX_NESTING,
  validateScenario,
  parseScenarioText,
  parseJsonText,
  formatErrors,
  parseIova,
  parseResult,
  LIMITS,
  type ValidationError,
  type ValidationResult,
} from './scenario/validate.ts';
export * from './policy/index.ts';
export * from './machines/index.ts';
export {
  encodeScenario,
  decodeScenario,
  linkProblem,
  parseAppUrl,
  buildShareUrl,
  buildShortUrl,
  linkFor,
  presetOf,
  shortLinkOf,
  shortLinkScenario,
  base64urlEncode,
  base64urlDecode,
  MAX_LINK_JSON_BYTES,
  type AppUrlState,
  type DecodeResult,
} from './scenario/url.ts';
export { BUILTIN_SCENARIOS, DEFAULT_SCENARIO_ID, builtinScenario } from './scenario/builtins/index.ts';
export { dmesgTime } from './kernel/printk.ts';
export {
  buildView,
  type View,
  type CmdqView,
  type SteView,
  type GdevView,
  type GroupView,
  type EndpointView,
  type AtcEntryView,
  type MemoryView,
  type TaskView,
  type LockView,
  type GerrorBitView,
  type OutstandingAtcInv,
  type DomainView,
} from './view.ts';
export {
  Timeline,
  RECORDING_BUDGET_BYTES,
  RECORDING_COST,
  positionAt,
  positionOfTrace,
  type Marker,
  type RecordingState,
  type TimelineData,
  type TimelineOptions,
} from './timeline.ts';
export type { LogLine, LogLevel, CallRecord, Violation } from './sim/context.ts';
export {
  TRACE_WORDS,
  STICKY_KINDS,
  causalChain,
  describeRecord,
  gerrorHistory,
  overdueAtcInvs,
  type GerrorBitHistory,
  type OverdueAtcInv,
  lastRecordOf,
  lastRecoveryCntRecord,
  lastStateRecord,
  recordDevice,
  traceLayer,
  traceIsDetail,
  traceMark,
  type TraceEvents,
  type TraceKind,
  type TraceLayer,
  type TraceMark,
  type TraceRecord,
  type TraceRecordOf,
} from './trace.ts';
export { decodeCmd, describeCmd, opcodeName, cmdFieldNames, OPCODE_NAMES, type Cmd } from './hw/cmd.ts';
export { GERROR_BITS, CERROR_NAMES, cerrorName, Q_IDX, Q_WRP } from './hw/regs.ts';
export { EVENT_SPEC_NAMES, STE_CONFIG_NAMES } from './hw/ste.ts';
export { BLOCKED_SEVERITY, BLOCKED_STATES } from './machines/groupDevice.machine.ts';
export { RESET_FN_NAMES } from './kernel/pci.ts';
export {
  eventRecordRange,
  eventHeadline,
  captionAt,
  chapterPositions,
  storyAt,
  nextStop,
  stopCrossed,
  type StoryNow,
} from './story.ts';
