/** Messages between the page and the simulation worker. */
import type {
  CallRecord,
  LogLine,
  PolicySpec,
  RecordingState,
  ResolvedScenario,
  RunStatus,
  Scenario,
  SimResult,
  TimelineData,
  TraceRecord,
  ValidationError,
  View,
  Violation,
} from '../../core/index.ts';

export type ToWorker =
  | { type: 'load'; id: number; scenario: unknown; policy: PolicySpec | null }
  | { type: 'seek'; id: number; position: number }
  | { type: 'compare'; id: number }
  /** Decode and validate a link's `#s=` payload (off the page's thread: it may inflate 2 MiB of JSON). */
  | { type: 'decode'; id: number; encoded: string };

/** A link's scenario as written, or why the link holds none. */
export type LinkDecoded = { ok: true; raw: Scenario } | { ok: false; error: string };

/** The loaded scenario run to its end under one policy (trace off). */
export interface CompareRow {
  policy: PolicySpec;
  label: string;
  current: boolean;
  stats: SimResult['stats'];
  devices: Array<{ bdf: string; blocked: string; atsBroken: boolean; present: boolean }>;
  groups: Array<{ id: number; recoveryCnt: number }>;
  logLines: number;
  failedCalls: number;
  violations: number;
  endUs: number;
}

/**
 * The start of a run, recorded: the worker answers a load with what it has
 * recorded in its first slice and goes on recording, sending the rest in
 * `Recorded` messages.
 */
export interface Loaded {
  type: 'loaded';
  id: number;
  ok: true;
  resolved: ResolvedScenario;
  data: TimelineData;
  trace: TraceRecord[];
  log: LogLine[];
  calls: CallRecord[];
  violations: Violation[];
  /** The result document, once recording has ended (null while it goes on). */
  result: SimResult | null;
  position: number;
  view: View;
  loadMs: number;
}

/**
 * More of the run recorded: the per-event entries from position `from` to
 * the count recorded now (the entry at `from` is sent again: the end of a
 * run can add to its last position), and the trace records, log lines,
 * calls and violations written since the last message.
 */
export interface Recorded {
  type: 'recorded';
  /** The load this recording belongs to. */
  id: number;
  from: number;
  times: Float64Array;
  traceLen: Uint32Array;
  logLen: Uint32Array;
  callsLen: Uint32Array;
  trace: TraceRecord[];
  log: LogLine[];
  calls: CallRecord[];
  violations: Violation[];
  stepAt: number[];
  recording: RecordingState;
  status: RunStatus;
  stopReason: string | null;
  result: SimResult | null;
  /** Milliseconds from the load to this message. */
  recordMs: number;
}

export type FromWorker =
  | Loaded
  | Recorded
  | { type: 'loaded'; id: number; ok: false; errors: ValidationError[] }
  | { type: 'view'; id: number; position: number; view: View }
  | { type: 'compared'; id: number; rows: CompareRow[] }
  | { type: 'decoded'; id: number; result: LinkDecoded }
  | { type: 'failed'; id: number; message: string };
