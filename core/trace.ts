/**
 * The trace as the app reads it: every layer's events in one discriminated
 * union (TraceRecord, by `kind`), the words for each (TRACE_WORDS, declared
 * beside each event in its layer's trace.ts), and what the views ask of a
 * trace: one line for a record, its layer, its timeline mark, the chain of
 * causes behind it, and the record that put a device or a group in the
 * state shown.
 */
import { emit as record, note as recordNote, type SimCtx, type TraceEntry } from './sim/context.ts';
import type { TraceLayer, TraceMark, TraceWords, TraceWordsOf } from './sim/trace.ts';
import { HW_WORDS, type HwTrace } from './hw/trace.ts';
import { PCI_WORDS, type PciTrace } from './pci/trace.ts';
import { KERNEL_WORDS, type KernelTrace } from './kernel/trace.ts';

export type { TraceLayer, TraceMark };

/** The engine's own events. */
export interface EngineTrace {
  /** An invariant broke (an emulator bug). */
  violation: { invariant: string; message: string };
}

/** Record an engine event (see EngineTrace). */
export function emit<K extends keyof EngineTrace>(c: SimCtx, kind: K, d: EngineTrace[K], cause?: number): number {
  return record(c, kind, d, cause);
}

/** Record an engine event as a side note. */
export function note<K extends keyof EngineTrace>(c: SimCtx, kind: K, d: EngineTrace[K], cause?: number): number {
  return recordNote(c, kind, d, cause);
}

const ENGINE_WORDS: TraceWordsOf<EngineTrace> = {
  violation: {
    layer: 'bad',
    describe: (d) => `INVARIANT BROKEN ${d.invariant}: ${d.message}`,
    mark: (d) => ({ kind: 'violation', label: `${d.invariant}: ${d.message}` }),
  },
};

/** Every event of every layer, by kind. */
export type TraceEvents = HwTrace & PciTrace & KernelTrace & EngineTrace;
export type TraceKind = keyof TraceEvents;

/** The layers declare disjoint kinds (an event is declared once). */
type Overlap<A, B> = Extract<keyof A, keyof B>;
type MustBeNever<T extends never> = T;
export type DisjointLayers = MustBeNever<
  | Overlap<HwTrace, PciTrace>
  | Overlap<HwTrace, KernelTrace>
  | Overlap<HwTrace, EngineTrace>
  | Overlap<PciTrace, KernelTrace>
  | Overlap<PciTrace, EngineTrace>
  | Overlap<KernelTrace, EngineTrace>
>;

/** One record of the trace: its time, the record that caused it, and its event. */
export type TraceRecord = { [K in TraceKind]: { id: number; t: number; cause: number; kind: K; d: TraceEvents[K] } }[TraceKind];
/** A record of one kind. */
export type TraceRecordOf<K extends TraceKind> = Extract<TraceRecord, { kind: K }>;

/** The words for every event (the compiler checks that none is missing). */
export const TRACE_WORDS: TraceWordsOf<TraceEvents> = { ...HW_WORDS, ...PCI_WORDS, ...KERNEL_WORDS, ...ENGINE_WORDS };

/** The simulation's records as the union (every writer is one of the layers' typed emit()). */
export function asTraceRecords(entries: TraceEntry[]): TraceRecord[] {
  return entries as TraceRecord[];
}

function wordsOf(r: TraceRecord): TraceWords<TraceRecord['d']> | undefined {
  // The record's kind selects the words for its data (TRACE_WORDS[K] takes TraceEvents[K]).
  return (TRACE_WORDS as Record<string, TraceWords<TraceRecord['d']>>)[r.kind];
}

/** One line saying what a trace record is, in the kernel's and the spec's words. */
export function describeRecord(r: TraceRecord): string {
  const w = wordsOf(r);
  return w ? w.describe(r.d) : `${r.kind} ${JSON.stringify(r.d)}`;
}

/** The view a record belongs to (its colour in the causal chain). */
export function traceLayer(r: TraceRecord): TraceLayer {
  return wordsOf(r)?.layer ?? 'kernel';
}

/** The record's mark on the timeline, if it is worth one. */
export function traceMark(r: TraceRecord): TraceMark | null {
  return wordsOf(r)?.mark?.(r.d) ?? null;
}

/** The chain of causes of record `id`, the record itself first. */
export function causalChain(trace: readonly TraceRecord[], id: number, limit = 200): { chain: TraceRecord[]; more: boolean } {
  const chain: TraceRecord[] = [];
  let cur = id;
  const seen = new Set<number>();
  while (cur >= 0 && cur < trace.length && !seen.has(cur)) {
    if (chain.length >= limit) return { chain, more: true };
    seen.add(cur);
    const r = trace[cur]!;
    chain.push(r);
    cur = r.cause;
  }
  return { chain, more: false };
}

/** The device a record is about, if it names one. */
export function recordDevice(r: TraceRecord): string | null {
  const d: object = r.d;
  return 'bdf' in d && typeof d.bdf === 'string' ? d.bdf : null;
}

/** The record that put a device in its present state: its last state change, quarantine or unquarantine before `upTo`. */
export function lastStateRecord(trace: readonly TraceRecord[], bdf: string, upTo: number): number | null {
  for (let i = Math.min(upTo, trace.length) - 1; i >= 0; i--) {
    const r = trace[i]!;
    switch (r.kind) {
      case 'gdev.state':
      case 'quarantine.driver':
      case 'unquarantine.driver':
      case 'device.gone':
        if (r.d.bdf === bdf) return i;
    }
  }
  return null;
}

/** The record that set a group's recovery_cnt to its value at `upTo`. */
export function lastRecoveryCntRecord(trace: readonly TraceRecord[], group: number, upTo: number): number | null {
  for (let i = Math.min(upTo, trace.length) - 1; i >= 0; i--) {
    const r = trace[i]!;
    if (r.kind === 'recovery_cnt' && r.d.group === group) return i;
  }
  return null;
}

/** The last record of `kind` before `upTo`. */
export function lastRecordOf(trace: readonly TraceRecord[], kind: TraceKind, upTo: number): number | null {
  for (let i = Math.min(upTo, trace.length) - 1; i >= 0; i--) if (trace[i]!.kind === kind) return i;
  return null;
}
