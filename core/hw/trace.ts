/**
 * The SMMU's trace events (QEMU's hw/arm/trace-events is the model: every
 * trace point declared once, with typed arguments), their words, and the
 * typed emit()/note() the hardware layer records them with.
 */
import { emit as record, note as recordNote, type SimCtx } from '../sim/context.ts';
import type { TraceWordsOf } from '../sim/trace.ts';
import { GERROR_BITS } from './regs.ts';

export interface HwTrace {
  /** A register write with a side effect worth seeing (CR0). */
  'reg.write': { reg: string; value: string };
  /** Software writes GERRORN; `toggled` are the bits it acknowledges. */
  'gerrorn.write': { value: string; toggled: string; gerror: string };
  /** The driver publishes CMDQ_PROD. */
  'cmdq.prod': { prod: string };
  /** The SMMU toggles a GERROR bit: the error is active until GERRORN follows. */
  'gerror.toggle': { bit: number; gerror: string; gerrorn: string };
  /** The consumer takes the command in `slot`; CONS moves on. */
  'cmdq.consume': { slot: number; op: string; cons: string };
  /** The consumer stops at `slot` with CMDQ_CONS.ERR set. */
  'cmdq.error': { slot: number; cerror: string; cons: string };
  /** CFGI_ALL: every cached STE dropped. */
  'ste.cfgi_all': Record<string, never>;
  /** The SMMU sends an ATS Invalidate Request for an ATC_INV. */
  'atc.inv.send': { req: number; sid: number; ssid: number; all: boolean; first: number; last: number };
  /** A CMD_SYNC waits for earlier ATC invalidations to complete. */
  'cmdq.sync.wait': { slot: number };
  /** An ATC invalidation outlives the timeout: the CMD_SYNC after it fails. */
  'atc.inv.timeout': { req: number; sid: number };
  /** An ATC invalidation's completion reaches the SMMU. */
  'atc.inv.complete': { req: number; sid: number; atNs: number };
  /** An injected SMMU-level fault. */
  'smmu.fault': { kind: 'sfm' | 'cmdq-abort' | 'evtq-abort' };
  /** The write of an event record takes an external abort: the record is lost (GERROR.EVTQ_ABT_ERR). */
  'evtq.abort': { id: number; sid: number };
  /** CFGI_STE: the SMMU re-reads one STE. */
  'ste.cfgi': { sid: number; v: number; config: number; eats: number };
  /** The event queue is full: an event is lost. */
  'evtq.overflow': { id: number; sid: number };
  /** The SMMU writes an event into the event queue. */
  'evtq.record': { event: string; id: number; sid: number; addr: number };
}

/** Record a hardware event (see HwTrace); it becomes the cause of what follows. */
export function emit<K extends keyof HwTrace>(c: SimCtx, kind: K, d: HwTrace[K], cause?: number): number {
  return record(c, kind, d, cause);
}

/** Record a hardware event as a side note (the current cause stays). */
export function note<K extends keyof HwTrace>(c: SimCtx, kind: K, d: HwTrace[K], cause?: number): number {
  return recordNote(c, kind, d, cause);
}

/** GERROR bits by name ("CMDQ_ERR|SFM_ERR"). */
export function gerrorBitNames(mask: number): string {
  const names = GERROR_BITS.filter((b) => (mask >>> b.bit) & 1).map((b) => b.name);
  return names.length ? names.join('|') : `0x${mask.toString(16)}`;
}

const sidHex = (sid: number): string => `0x${sid.toString(16)}`;

export const HW_WORDS: TraceWordsOf<HwTrace> = {
  'reg.write': { layer: 'hw', describe: (d) => `driver writes ${d.reg} = ${d.value}` },
  'gerrorn.write': { layer: 'hw', describe: (d) => `driver writes GERRORN = ${d.value} (acknowledges ${d.toggled})` },
  'cmdq.prod': { layer: 'kernel', describe: (d) => `driver publishes CMDQ_PROD = ${d.prod}`, detail: true },
  'gerror.toggle': {
    layer: 'hw',
    describe: (d) => `SMMU toggles GERROR.${gerrorBitNames(d.bit)} (GERROR ${d.gerror} ≠ GERRORN ${d.gerrorn}): interrupt`,
  },
  'cmdq.consume': {
    layer: 'hw',
    describe: (d) => `SMMU consumes ${d.op} in slot ${d.slot} (CONS → ${d.cons})`,
    detail: true,
  },
  'cmdq.error': {
    layer: 'hw',
    describe: (d) => `SMMU stops at slot ${d.slot}: CMDQ_CONS.ERR = ${d.cerror} (CONS ${d.cons})`,
    mark: (d) => ({ kind: 'error', label: `CMDQ error ${d.cerror}` }),
  },
  'ste.cfgi_all': { layer: 'hw', describe: () => 'SMMU drops every cached STE (CFGI_ALL)' },
  'atc.inv.send': { layer: 'hw', describe: (d) => `SMMU sends ATC invalidation #${d.req} to SID ${sidHex(d.sid)}` },
  'cmdq.sync.wait': { layer: 'hw', describe: (d) => `SMMU holds CMD_SYNC in slot ${d.slot} until earlier ATC_INVs complete` },
  'atc.inv.timeout': { layer: 'hw', describe: (d) => `ATC invalidation #${d.req} to SID ${sidHex(d.sid)} times out` },
  'atc.inv.complete': { layer: 'hw', describe: (d) => `ATC invalidation #${d.req} completes` },
  'smmu.fault': {
    layer: 'hw',
    describe: (d) =>
      d.kind === 'sfm'
        ? 'SMMU enters Service Failure Mode (GERROR.SFM_ERR)'
        : d.kind === 'evtq-abort'
          ? 'the next event record write will take an external abort'
          : 'SMMU aborts a command fetch (CERROR_ABT)',
    mark: (d) => ({ kind: 'fault', label: `SMMU: ${d.kind}` }),
  },
  'ste.cfgi': { layer: 'hw', describe: (d) => `SMMU re-reads STE for SID ${sidHex(d.sid)} (CFGI_STE): EATS=${d.eats}` },
  'evtq.overflow': { layer: 'hw', describe: () => 'event queue overflow' },
  'evtq.abort': {
    layer: 'hw',
    describe: (d) => `event record for SID ${sidHex(d.sid)} lost: write aborted (GERROR.EVTQ_ABT_ERR)`,
  },
  'evtq.record': { layer: 'hw', describe: (d) => `SMMU records event ${d.event} for SID ${sidHex(d.sid)}` },
};
