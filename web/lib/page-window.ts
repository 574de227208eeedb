/**
 * What the worker answers the page from the whole record of a run: the
 * window shown beside a view (caption, kernel log, API calls, the causal
 * chain asked about) and the records the page looks for. The page holds
 * only the per-event arrays, the marks and the sticky records; a storm of
 * a million commands writes about five million trace records, which stay
 * here.
 *
 * No DOM here: the unit tests (web/test/page-window.test.ts) read a
 * recorded Timeline through the same functions.
 */
import {
  captionAt,
  causalChain,
  lastRecoveryCntRecord,
  lastStateRecord,
  type CallRecord,
  type LogLine,
  type LogLevel,
  type TimelineData,
  type TraceRecord,
} from '../../core/index.ts';
import type { PageWindow, RecordFind, WindowAsk, WindowUpdate } from './protocol.ts';

/** Most kernel log lines a window holds (the newest that pass the filter); the filter reaches the rest. */
export const WINDOW_LOG_LINES = 1500;
/** Most API calls a window holds (the newest). */
export const WINDOW_CALLS = 500;

/** The levels "errors and warnings" keeps. */
const SERIOUS: ReadonlySet<LogLevel> = new Set<LogLevel>(['emerg', 'alert', 'crit', 'err', 'warn']);

/** What a window is read from: a recorded run (core/timeline.ts Timeline). */
export interface RecordSource {
  readonly trace: readonly TraceRecord[];
  readonly log: readonly LogLine[];
  readonly data: Pick<TimelineData, 'count' | 'traceLen' | 'logLen' | 'callsLen'>;
  /** The API calls from index `from` up to `to` (exclusive). */
  callsBetween(from: number, to: number): CallRecord[];
}

/** The ask of a page that has set nothing and holds nothing: the whole log, no record asked about. */
export const PLAIN_ASK: WindowAsk = { logFilter: '', logErrorsOnly: false, focus: null, held: null };

/** What a log window is of: the lines printed, and the filter. */
export function logKey(printed: number, ask: Pick<WindowAsk, 'logFilter' | 'logErrorsOnly'>): string {
  return `${printed}:${ask.logErrorsOnly ? 'serious' : 'all'}:${ask.logFilter.trim().toLowerCase()}`;
}

/** The kernel log lines printed up to `printed` that pass the ask's filter: the last `max`, and how many pass. */
export function logWindow(
  log: readonly LogLine[],
  printed: number,
  ask: Pick<WindowAsk, 'logFilter' | 'logErrorsOnly'>,
  max = WINDOW_LOG_LINES,
): PageWindow['log'] {
  const n = Math.min(printed, log.length);
  const f = ask.logFilter.trim().toLowerCase();
  const key = logKey(n, ask);
  if (f === '' && !ask.logErrorsOnly) return { lines: log.slice(Math.max(0, n - max), n), total: n, key };
  // From the newest back: the window keeps the last `max` that pass, and counts the rest.
  const lines: LogLine[] = [];
  let total = 0;
  for (let i = n - 1; i >= 0; i--) {
    const l = log[i]!;
    if ((ask.logErrorsOnly && !SERIOUS.has(l.level)) || (f !== '' && !l.text.toLowerCase().includes(f))) continue;
    total++;
    if (lines.length < max) lines.push(l);
  }
  return { lines: lines.reverse(), total, key };
}

/** The causal chain of record `id`, causes first, if it is recorded. */
export function chainOf(trace: readonly TraceRecord[], id: number | null): PageWindow['chain'] {
  if (id === null || !Number.isInteger(id) || id < 0 || id >= trace.length) return null;
  const { chain, more } = causalChain(trace, id);
  return { items: chain.slice().reverse(), more, target: trace[id]! };
}

/** The window at `position` (clamped to what is recorded) for the page's ask, whole. */
export function pageWindow(src: RecordSource, position: number, ask: WindowAsk): PageWindow {
  const w = windowUpdate(src, position, { ...ask, held: null });
  return { ...w, log: w.log!, calls: w.calls! };
}

/**
 * The window at `position` as the worker sends it: the log and the calls
 * are left out (null) when they are those the page holds (`ask.held`), so
 * a run playing sends them only when they change.
 */
export function windowUpdate(src: RecordSource, position: number, ask: WindowAsk): WindowUpdate {
  const d = src.data;
  const p = Math.max(0, Math.min(d.count, Math.floor(position)));
  const held = ask.held;
  const sameLog = held !== null && held.log === logKey(Math.min(d.logLen[p]!, src.log.length), ask);
  const sameCalls = held !== null && held.calls === d.callsLen[p];
  const called = d.callsLen[p]!;
  return {
    position: p,
    caption: captionAt(src.trace, d, p),
    log: sameLog ? null : logWindow(src.log, d.logLen[p]!, ask),
    calls: sameCalls ? null : { items: src.callsBetween(Math.max(0, called - WINDOW_CALLS), called), total: called },
    chain: chainOf(src.trace, ask.focus),
  };
}

/** The record a page looks for (core/trace.ts lastStateRecord, lastRecoveryCntRecord), or null. */
export function findRecord(src: Pick<RecordSource, 'trace'>, find: RecordFind): number | null {
  if (find.kind === 'device-state') return lastStateRecord(src.trace, find.bdf, find.upTo);
  return lastRecoveryCntRecord(src.trace, find.group, find.upTo);
}
