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

/** Whether the record is a detail of the mechanics (TraceWords.detail): never an event's caption while the event has another. */
export function traceIsDetail(r: TraceRecord): boolean {
  return wordsOf(r)?.detail === true;
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

/**
 * The kinds of record the views keep showing after they pass: the raises and
 * acknowledgements of GERROR bits, and the ATC invalidations that timed out
 * with the CMD_SYNC that stopped on them. A run has few of them; the page keeps
 * them in a list of their own so a view at any position reads only these.
 */
export const STICKY_KINDS: ReadonlySet<TraceKind> = new Set<TraceKind>([
  'gerror.toggle',
  'gerrorn.write',
  'atc.inv.timeout',
  'cmdq.error',
]);

/** What a GERROR bit has done up to a moment: raises by the SMMU, acknowledgements by the driver, and when the last of each was. */
export interface GerrorBitHistory {
  raised: number;
  acked: number;
  lastRaiseNs: number | null;
  lastAckNs: number | null;
}

/**
 * Each GERROR bit's history (index = bit number) from the records before `upTo`
 * (a trace length): a raise is the SMMU toggling GERROR (arm_smmu_gerror_handler()
 * sees GERROR ^ GERRORN), an acknowledgement the driver's write of GERRORN toggling
 * the bit back to equal.
 */
export function gerrorHistory(records: readonly TraceRecord[], upTo: number): GerrorBitHistory[] {
  const out: GerrorBitHistory[] = Array.from({ length: 32 }, () => ({ raised: 0, acked: 0, lastRaiseNs: null, lastAckNs: null }));
  for (const r of records) {
    if (r.id >= upTo) break;
    let mask: number;
    if (r.kind === 'gerror.toggle') mask = r.d.bit;
    else if (r.kind === 'gerrorn.write') mask = Number.parseInt(r.d.toggled, 16);
    else continue;
    for (let b = 0; b < 32; b++) {
      if (((mask >>> b) & 1) === 0) continue;
      const h = out[b]!;
      if (r.kind === 'gerror.toggle') {
        h.raised++;
        h.lastRaiseNs = r.t;
      } else {
        h.acked++;
        h.lastAckNs = r.t;
      }
    }
  }
  return out;
}

/** An ATC invalidation past its deadline that the command queue has not yet moved past. */
export interface OverdueAtcInv {
  req: number;
  sid: number;
  /** When it timed out (its deadline). */
  t: number;
  /** The slot of the CMD_SYNC that stopped on it. */
  slot: number;
}

/**
 * The ATC invalidations that have timed out and are still in the way before
 * `upTo` (a trace length): the CMD_SYNC that waited for them stopped with
 * CERROR_ATC_INV_SYNC, and CONS (`consNow`, the register with its wrap bit,
 * `log2` the queue size) still points at that CMD_SYNC. Once the driver has
 * acknowledged the error and the SMMU consumes the CMD_SYNC again, CONS moves
 * on and the invalidation is dropped from the queue's view.
 */
export function overdueAtcInvs(records: readonly TraceRecord[], upTo: number, consNow: number, log2: number): OverdueAtcInv[] {
  const mask = (2 << log2) - 1;
  let pending: Array<{ req: number; sid: number; t: number }> = [];
  let last: Array<OverdueAtcInv & { cons: number }> = [];
  for (const r of records) {
    if (r.id >= upTo) break;
    if (r.kind === 'atc.inv.timeout') pending.push({ req: r.d.req, sid: r.d.sid, t: r.t });
    else if (r.kind === 'cmdq.error') {
      // The CMD_SYNC stopped on the invalidations that timed out just before it (other errors stop on none).
      const cons = Number.parseInt(r.d.cons, 16) & mask;
      last = r.d.cerror === 'CERROR_ATC_INV_SYNC' ? pending.map((p) => ({ ...p, slot: r.d.slot, cons })) : [];
      pending = [];
    }
  }
  const cons = consNow & mask;
  return last.filter((o) => o.cons === cons).map(({ req, sid, t, slot }) => ({ req, sid, t, slot }));
}
