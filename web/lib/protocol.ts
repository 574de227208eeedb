/** Messages between the page and the simulation worker. */
import type {
  CallRecord,
  LogLine,
  Marker,
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
} from '../../core/index.ts';

/**
 * What the page shows of the whole record beside a view, besides what it
 * holds (the per-event arrays, the marks, the sticky records): the kernel
 * log filter it has set and the trace record it asks "why" about.
 */
export interface WindowAsk {
  /** Text the kernel log lines shown must contain (case-insensitive); empty: every line. */
  logFilter: string;
  /** Only lines of level warn and worse. */
  logErrorsOnly: boolean;
  /** The trace record whose causal chain (Why?) is shown, or null. */
  focus: number | null;
  /** The lists of the window the page holds (their keys), which the worker need not send again; null: none. */
  held: { log: string; calls: number } | null;
}

/**
 * What the page draws from the whole record at a position, answered by the
 * worker (the page never holds the trace, log or call list of a run, which
 * can be millions of records): the caption, the last lines of the kernel
 * log that pass the filter, the last API calls, and the causal chain asked
 * for. Each list is bounded (web/lib/page-window.ts).
 */
export interface PageWindow {
  /** The position this window is of. */
  position: number;
  /** The caption there (core/story.ts captionAt). */
  caption: { record: TraceRecord; text: string } | null;
  /** Lines printed up to the position that pass the filter: the last of them, and how many there are. */
  log: { lines: LogLine[]; total: number; key: string };
  /** API calls returned up to the position: the last of them, and how many there are. */
  calls: { items: CallRecord[]; total: number };
  /** The causal chain of the record asked about, causes first (null: none asked, or not recorded). */
  chain: { items: TraceRecord[]; more: boolean; target: TraceRecord } | null;
}

/** A window as sent: a list the page holds already (`WindowAsk.held`) is left out (null). */
export interface WindowUpdate extends Omit<PageWindow, 'log' | 'calls'> {
  log: PageWindow['log'] | null;
  calls: PageWindow['calls'] | null;
}

/** A record the page looks for in the whole trace (the device menu's and group's "Why …?"), before trace length `upTo`. */
export type RecordFind =
  { kind: 'device-state'; bdf: string; upTo: number } | { kind: 'recovery-cnt'; group: number; upTo: number };

export type ToWorker =
  | { type: 'load'; id: number; scenario: unknown; policy: PolicySpec | null; ask: WindowAsk }
  | { type: 'seek'; id: number; position: number; ask: WindowAsk }
  /** The window at a position again, for another ask (the filter or the record asked about changed). */
  | { type: 'window'; id: number; position: number; ask: WindowAsk }
  | { type: 'find'; id: number; find: RecordFind }
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

/** The result document without the run's lists (the page shows them from its window, not from here). */
export type ResultSummary = Omit<SimResult, 'calls' | 'log' | 'violations'>;

/**
 * The start of a run, recorded: the worker answers a load with what it has
 * recorded in its first slice and goes on recording, sending the rest in
 * `Recorded` messages. The page gets the per-event arrays, the marks and
 * the sticky records; the trace, log and calls stay in the worker.
 */
export interface Loaded {
  type: 'loaded';
  id: number;
  ok: true;
  resolved: ResolvedScenario;
  data: TimelineData;
  markers: Marker[];
  /** The records of STICKY_KINDS (core/trace.ts), in trace order. */
  sticky: TraceRecord[];
  /** Invariant violations recorded so far. */
  violations: number;
  /** The result document, once recording has ended (null while it goes on). */
  result: ResultSummary | null;
  position: number;
  view: View;
  window: WindowUpdate;
  loadMs: number;
}

/**
 * More of the run recorded: the per-event entries from position `from` to
 * the count recorded now (the entry at `from` is sent again: the end of a
 * run can add to its last position), and the marks and sticky records
 * recorded since the last message.
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
  markers: Marker[];
  sticky: TraceRecord[];
  /** Invariant violations recorded so far. */
  violations: number;
  stepAt: number[];
  recording: RecordingState;
  status: RunStatus;
  stopReason: string | null;
  result: ResultSummary | null;
  /** Milliseconds from the load to this message. */
  recordMs: number;
}

export type FromWorker =
  | Loaded
  | Recorded
  | { type: 'loaded'; id: number; ok: false; errors: ValidationError[] }
  | { type: 'view'; id: number; position: number; view: View; window: WindowUpdate }
  | { type: 'window'; id: number; window: WindowUpdate }
  /** The trace record found (its id), or null when there is none. */
  | { type: 'found'; id: number; traceId: number | null }
  | { type: 'compared'; id: number; rows: CompareRow[] }
  | { type: 'decoded'; id: number; result: LinkDecoded }
  | { type: 'failed'; id: number; message: string };
