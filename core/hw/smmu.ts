/**
 * The SMMUv3 hardware: register side effects, the CMDQ consumer, ATC
 * invalidation tracking, CMD_SYNC completion and errors, GERROR toggling and
 * its interrupt, the event queue, the STE cache, and the checks applied to
 * DMA (STE.V/Config/EATS, CR0.ATSCHK, Service Failure Mode).
 *
 * Behaviour on an ATC invalidation timeout (IHI 0070 §4.7 CMD_SYNC, §7.1):
 * the ATC_INV is consumed normally; the CMD_SYNC that follows does not
 * complete and is not consumed; CMDQ_CONS.ERR = CERROR_ATC_INV_SYNC,
 * GERROR.CMDQ_ERR toggles and consumption stops until software acknowledges
 * it through GERRORN. The timed-out invalidations "will never complete"; the
 * CMD_SYNC is then fetched again and can complete.
 */
import { cancel, nextDueNs, schedule, type SimCtx } from '../sim/context.ts';
import type { SimEvent } from '../sim/events.ts';
import { emit, note } from './trace.ts';
import { prngBelow } from '../sim/prng.ts';
import { hex32 } from '../sim/format.ts';
import {
  ATC_INV_SIZE_ALL,
  CMDQ_ENT_WORDS,
  CMDQ_OP_ATC_INV,
  CMDQ_OP_CFGI_ALL,
  CMDQ_OP_CFGI_STE,
  CMDQ_OP_CMD_SYNC,
  CMDQ_OP_PRI_RESP,
  CMDQ_OP_RESUME,
  atcInvFirst,
  atcInvLast,
  atcInvSsid,
  atcInvSsv,
  isKnownOpcode,
  opcodeName,
} from './cmd.ts';
import {
  ARM_SMMU_CMDQ_CONS,
  ARM_SMMU_CMDQ_PROD,
  ARM_SMMU_CR0,
  ARM_SMMU_CR0ACK,
  ARM_SMMU_EVTQ_CONS,
  ARM_SMMU_EVTQ_PROD,
  ARM_SMMU_GERROR,
  ARM_SMMU_GERRORN,
  ARM_SMMU_GBPA,
  ARM_SMMU_IDR0,
  ARM_SMMU_IDR1,
  ARM_SMMU_IRQ_CTRL,
  ARM_SMMU_IRQ_CTRLACK,
  ARM_SMMU_CMDQ_BASE,
  ARM_SMMU_EVTQ_BASE,
  ARM_SMMU_STRTAB_BASE,
  ARM_SMMU_STRTAB_BASE_CFG,
  CMDQ_CONS_ERR_MASK,
  CMDQ_CONS_ERR_SHIFT,
  CMDQ_ERR_CERROR_ABT_IDX,
  CMDQ_ERR_CERROR_ATC_INV_IDX,
  CMDQ_ERR_CERROR_ILL_IDX,
  CR0_ATSCHK,
  CR0_CMDQEN,
  CR0_EVTQEN,
  CR0_SMMUEN,
  GBPA_ABORT,
  GERROR_CMDQ_ERR,
  GERROR_EVTQ_ABT_ERR,
  GERROR_SFM_ERR,
  IDR0_ATS,
  IDR0_S1P,
  IDR0_SEV,
  IDR1_CMDQS_SHIFT,
  IDR1_EVTQS_SHIFT,
  IDR1_SIDSIZE_SHIFT,
  IDR1_SSIDSIZE_SHIFT,
  IRQ_CTRL_EVTQ_IRQEN,
  IRQ_CTRL_GERROR_IRQEN,
  Q_IDX,
  REG_FILE_BYTES,
  cerrorName,
  queueEmpty,
  queueFull,
  queueIncN,
  queueSpace,
} from './regs.ts';
import {
  EVTQ_0_ID,
  EVTQ_0_SID,
  EVTQ_0_SSID,
  EVTQ_0_SSV,
  EVTQ_1_RNW,
  EVTQ_2_ADDR,
  EVTQ_ENT_WORDS,
  EVENT_SPEC_NAMES,
  STE_WORDS,
  STRTAB_STE_0_CFG_ABORT,
  STRTAB_STE_0_CFG_BYPASS,
  STRTAB_STE_0_CFG_S1_TRANS,
  readCd,
  readSte,
  EVT_ID_BAD_STE_CONFIG,
  EVT_ID_TRANSL_FORBIDDEN,
  EVT_ID_BAD_ATS_TREQ,
  EVT_ID_TRANSLATION_FAULT,
} from './ste.ts';
import { setField } from './bits.ts';
import { PTE_INVALID, type MemState } from './memory.ts';

export const SIDSIZE = 16;
export const SSIDSIZE = 4;
export const STRTAB_SPLIT = 8;
export const EVTQ_SHIFT = 7;

export interface HwCfg {
  cmdqLog2Size: number;
  atcInvTimeoutNs: number;
  cmdCostNs: number;
  gerrorIrqLatencyNs: number;
  evtqIrqLatencyNs: number;
  atcInvResponseNs: number;
  /** Number of values the response jitter takes (0 .. atcInvResponseNs / 2), and its reciprocal. */
  atcInvJitterSpan: number;
  atcInvJitterInv: number;
}

export interface AtcReq {
  id: number;
  sid: number;
  ssid: number;
  ssv: boolean;
  first: number;
  last: number;
  /** CMDQ slot of the ATC_INV. */
  slot: number;
  sentNs: number;
  deadlineNs: number;
  /**
   * When the endpoint's Invalidate Completion reaches the SMMU (Infinity:
   * never). The endpoint decides when the request reaches it, so this is
   * known from the moment the ATC_INV is consumed.
   */
  cplNs: number;
  traceId: number;
}

/**
 * What the SMMU reaches across the PCIe fabric, given to it by the layer
 * that models the endpoints (a part of the world that snapshots leave out:
 * it holds functions, not state).
 */
export interface PcieBus {
  /**
   * The ATS Invalidate Request for the ATC_INV whose four words start at
   * q[base], sent at sentNs with request id reqId: returns when the
   * endpoint's Invalidate Completion reaches the SMMU (Infinity: never).
   * The endpoint decodes what it needs of the request (its StreamID, and
   * its range only when it has translations cached).
   */
  atcInv(w: HwWorld, q: Uint32Array, base: number, reqId: number, sentNs: number, deadlineNs: number): number;
  /** The endpoints apply the ATC purges whose completion time has come. */
  settle(w: HwWorld): void;
}

export interface SmmuStats {
  commandsConsumed: number;
  atcInvTimeouts: number;
  cmdqErrors: number;
  blockedDma: number;
  eventsRecorded: number;
}

export interface SmmuState {
  regs: Uint32Array;
  cmdqShift: number;
  cmdq: Uint32Array;
  evtq: Uint32Array;
  /** Level-2 stream tables by L1 index (sid >> STRTAB_SPLIT): 2^SPLIT STEs each. */
  strtabL2: Record<number, Uint32Array>;
  /** The SMMU's cached STEs (filled on first use, refreshed by CFGI_STE / CFGI_ALL). */
  steCache: Record<number, number[]>;
  consumer: { busy: boolean; waitingSync: boolean; syncToken: number; syncTimer: number; pendingAbort: boolean };
  /**
   * Outstanding ATC invalidations. Everything outstanding when the consumer
   * reaches a CMD_SYNC was sent before it, so the sync needs only: the
   * latest completion among those that will complete in time, and the ones
   * that will not (in send order, so by deadline).
   */
  atcOut: {
    /** Latest completion time of an outstanding invalidation that completes before its deadline. */
    okMaxCplNs: number;
    /** Invalidations that will not complete before their deadline. */
    failing: AtcReq[];
    /** Every outstanding invalidation, kept only with the trace on (for completion records and views). */
    traced: AtcReq[];
  };
  /** Kernel tasks waiting for queue space: while any wait, the consumer does not run ahead. */
  spaceWaiters: number;
  nextAtcReq: number;
  gerrorIrqPending: boolean;
  evtqIrqPending: boolean;
  /** An injected fault: the next event record write takes an external abort. */
  evtqAbortPending: boolean;
  sfm: boolean;
  /** Trace id of the last change of CONS (what a poller woke up on). */
  consCause: number;
  /** Incremented whenever CONS changes (pollers are re-checked only then). */
  consGen: number;
  stats: SmmuStats;
}

/** The part of the simulation the hardware layer works on. */
export interface HwWorld extends SimCtx {
  hwcfg: HwCfg;
  smmu: SmmuState;
  mem: MemState;
  bus: PcieBus;
}

export function smmuInit(cfg: HwCfg): SmmuState {
  const regs = new Uint32Array(REG_FILE_BYTES / 4);
  regs[ARM_SMMU_IDR0 / 4] = IDR0_S1P | IDR0_ATS | IDR0_SEV;
  regs[ARM_SMMU_IDR1 / 4] =
    (cfg.cmdqLog2Size << IDR1_CMDQS_SHIFT) |
    (EVTQ_SHIFT << IDR1_EVTQS_SHIFT) |
    (SSIDSIZE << IDR1_SSIDSIZE_SHIFT) |
    (SIDSIZE << IDR1_SIDSIZE_SHIFT);
  regs[ARM_SMMU_CMDQ_BASE / 4] = 0x4000_0000 | cfg.cmdqLog2Size;
  regs[ARM_SMMU_EVTQ_BASE / 4] = 0x4100_0000 | EVTQ_SHIFT;
  regs[ARM_SMMU_STRTAB_BASE / 4] = 0x4200_0000;
  regs[ARM_SMMU_STRTAB_BASE_CFG / 4] = (1 << 16) | (STRTAB_SPLIT << 6) | SIDSIZE;
  return {
    regs,
    cmdqShift: cfg.cmdqLog2Size,
    cmdq: new Uint32Array((1 << cfg.cmdqLog2Size) * CMDQ_ENT_WORDS),
    evtq: new Uint32Array((1 << EVTQ_SHIFT) * EVTQ_ENT_WORDS),
    strtabL2: {},
    steCache: {},
    consumer: { busy: false, waitingSync: false, syncToken: 0, syncTimer: -1, pendingAbort: false },
    atcOut: { okMaxCplNs: Number.NEGATIVE_INFINITY, failing: [], traced: [] },
    spaceWaiters: 0,
    nextAtcReq: 1,
    gerrorIrqPending: false,
    evtqIrqPending: false,
    evtqAbortPending: false,
    sfm: false,
    consCause: -1,
    consGen: 0,
    stats: { commandsConsumed: 0, atcInvTimeouts: 0, cmdqErrors: 0, blockedDma: 0, eventsRecorded: 0 },
  };
}

/* ---------------------------------------------------------------- registers */

export function readReg(w: HwWorld, off: number): number {
  return w.smmu.regs[off / 4]! >>> 0;
}

/** An MMIO write with the side effects the SMMU architecture gives it. */
export function writeReg(w: HwWorld, off: number, val: number): void {
  const r = w.smmu.regs;
  val >>>= 0;
  switch (off) {
    case ARM_SMMU_CR0:
      r[ARM_SMMU_CR0 / 4] = val;
      r[ARM_SMMU_CR0ACK / 4] = val;
      note(w, 'reg.write', { reg: 'CR0', value: hex32(val) });
      kickConsumer(w);
      return;
    case ARM_SMMU_IRQ_CTRL:
      r[off / 4] = val;
      r[ARM_SMMU_IRQ_CTRLACK / 4] = val;
      return;
    case ARM_SMMU_GERRORN: {
      const before = r[ARM_SMMU_GERRORN / 4]!;
      r[off / 4] = val;
      emit(w, 'gerrorn.write', { value: hex32(val), toggled: hex32(before ^ val), gerror: hex32(r[ARM_SMMU_GERROR / 4]!) });
      // Acknowledging CMDQ_ERR lets the consumer fetch the command at CONS again.
      kickConsumer(w);
      return;
    }
    case ARM_SMMU_CMDQ_PROD:
      r[off / 4] = val;
      if (w.traceOn) emit(w, 'cmdq.prod', { prod: hex32(val) });
      kickConsumer(w);
      return;
    case ARM_SMMU_EVTQ_CONS:
      r[off / 4] = val;
      return;
    default:
      r[off / 4] = val;
  }
}

export function gerrorActive(w: HwWorld): number {
  return (readReg(w, ARM_SMMU_GERROR) ^ readReg(w, ARM_SMMU_GERRORN)) >>> 0;
}

/** The SMMU toggles a GERROR bit only if that error is not already active. */
export function raiseGerror(w: HwWorld, bit: number): void {
  if (gerrorActive(w) & bit) return;
  const r = w.smmu.regs;
  r[ARM_SMMU_GERROR / 4] = (r[ARM_SMMU_GERROR / 4]! ^ bit) >>> 0;
  emit(w, 'gerror.toggle', { bit, gerror: hex32(r[ARM_SMMU_GERROR / 4]!), gerrorn: hex32(r[ARM_SMMU_GERRORN / 4]!) });
  if (readReg(w, ARM_SMMU_IRQ_CTRL) & IRQ_CTRL_GERROR_IRQEN && !w.smmu.gerrorIrqPending) {
    w.smmu.gerrorIrqPending = true;
    schedule(w, w.s.nowNs + w.hwcfg.gerrorIrqLatencyNs, { k: 'irq.gerror' });
  }
}

/* ----------------------------------------------------------------- CMDQ */

function consReg(w: HwWorld): number {
  return readReg(w, ARM_SMMU_CMDQ_CONS);
}
function prodReg(w: HwWorld): number {
  return readReg(w, ARM_SMMU_CMDQ_PROD);
}

/** CONS with the ERR field removed (RD: index + wrap bit). */
export function consRd(w: HwWorld): number {
  return consReg(w) & ((2 << w.smmu.cmdqShift) - 1);
}
export function consErr(w: HwWorld): number {
  return (consReg(w) >>> CMDQ_CONS_ERR_SHIFT) & CMDQ_CONS_ERR_MASK;
}

function canConsume(w: HwWorld): boolean {
  const s = w.smmu;
  if (s.sfm) return false;
  if (!(readReg(w, ARM_SMMU_CR0) & CR0_CMDQEN)) return false;
  if (gerrorActive(w) & GERROR_CMDQ_ERR) return false;
  const shift = s.cmdqShift;
  return !queueEmpty(shift, prodReg(w), consRd(w));
}

/**
 * The consumer's event. It carries no data and no handler changes it, so one
 * object serves every kick (a snapshot clones it with the queue as plain data).
 */
const HW_CONSUME: SimEvent = { k: 'hw.consume' };

export function kickConsumer(w: HwWorld): void {
  const c = w.smmu.consumer;
  // A CMD_SYNC parked on outstanding ATC_INVs is re-evaluated on completions
  // and deadlines; an error clears the park, and an acknowledgement restarts
  // consumption at CONS.
  if (c.busy || c.waitingSync) return;
  if (!canConsume(w)) return;
  c.busy = true;
  schedule(w, w.s.nowNs + w.hwcfg.cmdCostNs, HW_CONSUME);
}

function advanceCons(w: HwWorld, slot: number, op: number): void {
  const s = w.smmu;
  // Consumption resumes with a clean CONS.ERR (the field describes the command in error only).
  const m = (2 << s.cmdqShift) - 1;
  const next = ((s.regs[ARM_SMMU_CMDQ_CONS / 4]! & m) + 1) & m;
  s.regs[ARM_SMMU_CMDQ_CONS / 4] = next;
  s.consGen++;
  s.stats.commandsConsumed++;
  if (w.traceOn) traceConsume(w, slot, op, next);
}

/* The consumer's trace records, written by functions of their own, off the per-command path. */
function traceConsume(w: HwWorld, slot: number, op: number, cons: number): void {
  w.smmu.consCause = emit(w, 'cmdq.consume', { slot, op: opcodeName(op), cons: hex32(cons) });
}

function cmdqError(w: HwWorld, code: number, slot: number): void {
  const s = w.smmu;
  const rd = consRd(w);
  s.regs[ARM_SMMU_CMDQ_CONS / 4] = (rd | ((code & CMDQ_CONS_ERR_MASK) << CMDQ_CONS_ERR_SHIFT)) >>> 0;
  s.consGen++;
  s.stats.cmdqErrors++;
  if (code === CMDQ_ERR_CERROR_ATC_INV_IDX) s.stats.atcInvTimeouts++;
  s.consCause = emit(w, 'cmdq.error', { slot, cerror: cerrorName(code), cons: hex32(consReg(w)) });
  raiseGerror(w, GERROR_CMDQ_ERR);
}

/**
 * The consumer processes the command at CONS (event 'hw.consume'), one per
 * cmdCostNs. It runs ahead through consecutive commands within the same
 * event while no other event is due before the next command and no kernel
 * task could be woken by the move of CONS — the virtual timeline is the
 * same as with one event per command.
 */
export function onConsume(w: HwWorld): void {
  const s = w.smmu;
  s.consumer.busy = false;
  if (!canConsume(w)) return;
  const sim = w.s;
  const q = s.cmdq;
  const regs = s.regs;
  const rdMask = (2 << s.cmdqShift) - 1;
  const idxMask = (1 << s.cmdqShift) - 1;
  const cost = w.hwcfg.cmdCostNs;
  // Within this loop no event is scheduled, PROD is not written and the
  // conditions of canConsume() change only on an error, which leaves the
  // loop: the next due time and PROD are read once.
  const due = nextDueNs(w);
  const prod = regs[ARM_SMMU_CMDQ_PROD / 4]! & rdMask;
  // Run ahead to the next command (at time `next`) only while nothing else
  // is due first (next < due), no queue-space poller could wake, and the
  // caller's horizon allows it: next < stopAt and next <= stopAfter. None of
  // these changes inside the loop, so they are worked out once.
  let stopAt = due;
  let stopAfter = Number.POSITIVE_INFINITY;
  if (s.spaceWaiters > 0 || !sim.runAhead) stopAt = Number.NEGATIVE_INFINITY;
  else if (sim.horizonStrict) {
    if (sim.horizonNs < stopAt) stopAt = sim.horizonNs;
  } else stopAfter = sim.horizonNs;
  // Commands are consumed one per cmdCostNs: the run's command limit is a horizon in time too.
  const room = sim.cmdLimit - s.stats.commandsConsumed;
  if (room < Number.POSITIVE_INFINITY) {
    const last = sim.nowNs + (room - 1) * cost;
    if (last < stopAfter) stopAfter = last;
  }
  const consumer = s.consumer;
  let cons = regs[ARM_SMMU_CMDQ_CONS / 4]! & rdMask;
  for (;;) {
    // A run of ATC_INVs (a storm's common case) goes through a loop of its
    // own that keeps CONS and the clock in locals; this loop takes every
    // other command.
    if (!consumer.pendingAbort) {
      cons = consumeAtcInvRun(w, cons, prod, stopAt, stopAfter);
      if (cons < 0) return;
    }
    if (cons === prod) return;
    const slot = cons & idxMask;
    if (consumer.pendingAbort) {
      consumer.pendingAbort = false;
      cmdqError(w, CMDQ_ERR_CERROR_ABT_IDX, slot);
      return;
    }
    const base = slot * CMDQ_ENT_WORDS;
    const w0 = q[base]!;
    const op = w0 & 0xff;
    if (!isKnownOpcode(op) || !commandIsLegal(op, w0, q[base + 1]!)) {
      cmdqError(w, CMDQ_ERR_CERROR_ILL_IDX, slot);
      return;
    }
    if (op === CMDQ_OP_CMD_SYNC) {
      if (!resolveSync(w, slot, stopAt, stopAfter)) return;
      advanceCons(w, slot, op);
      // A poller may be waiting for this CMD_SYNC: hand over the clock.
      kickConsumer(w);
      return;
    }
    advanceCons(w, slot, op);
    cons = (cons + 1) & rdMask;
    if (op === CMDQ_OP_CFGI_STE) refreshSteCache(w, q[base + 1]!);
    else if (op === CMDQ_OP_CFGI_ALL) {
      s.steCache = {};
      note(w, 'ste.cfgi_all', {});
    }
    // TLB and other configuration invalidations: the model keeps no TLB.
    if (cons === prod) return;
    const next = sim.nowNs + cost;
    if (next >= stopAt || next > stopAfter) {
      kickConsumer(w);
      return;
    }
    sim.nowNs = next;
  }
}

/**
 * onConsume() over consecutive legal ATC_INVs: for each, CONS moves, the
 * SMMU sends the ATS Invalidate Request across the bus, and the clock
 * advances by cmdCostNs while nothing else is due. CONS, its generation
 * count and the consumed-commands count are written back once. Returns the
 * CONS of the first command it did not take (for the general loop), or -1
 * when the consumer stopped (queue empty, or handing the clock back).
 */
function consumeAtcInvRun(w: HwWorld, cons: number, prod: number, stopAt: number, stopAfter: number): number {
  const s = w.smmu;
  const sim = w.s;
  const q = s.cmdq;
  const rdMask = (2 << s.cmdqShift) - 1;
  const idxMask = (1 << s.cmdqShift) - 1;
  const cfg = w.hwcfg;
  const cost = cfg.cmdCostNs;
  const timeout = cfg.atcInvTimeoutNs;
  const out = s.atcOut;
  const atcInv = w.bus.atcInv;
  const traceOn = w.traceOn;
  // What the loop compares against, read once.
  const opAtcInv = CMDQ_OP_ATC_INV;
  const sidLimit = 1 << SIDSIZE;
  const limitAt = +stopAt;
  const limitAfter = +stopAfter;
  let okMax = +out.okMaxCplNs;
  let now = +sim.nowNs;
  let id = s.nextAtcReq;
  const id0 = id;
  let stopped = false;
  while (cons !== prod) {
    const slot = cons & idxMask;
    // slot * CMDQ_ENT_WORDS (4) as a shift: a 32-bit result with no overflow check.
    const base = slot << 2;
    const w0 = q[base]!;
    if ((w0 & 0xff) !== opAtcInv || q[base + 1]! >= sidLimit) break;
    cons = (cons + 1) & rdMask;
    const deadline = now + timeout;
    let traceId = -1;
    if (traceOn) {
      // The records (the endpoint's too) carry the time the request is sent.
      sim.nowNs = now;
      traceId = traceAtcInvSend(w, slot, cons, base, id);
    }
    const cpl = +atcInv(w, q, base, id, now, deadline);
    if (cpl <= deadline) {
      if (cpl > okMax) okMax = cpl;
      if (traceOn) out.traced.push(atcReqAt(q, base, id, slot, now, deadline, cpl, traceId));
    } else outstandingFailing(w, atcReqAt(q, base, id, slot, now, deadline, cpl, traceId));
    id++;
    if (cons === prod) {
      stopped = true;
      break;
    }
    const next = now + cost;
    if (next >= limitAt || next > limitAfter) {
      stopped = true;
      break;
    }
    now = next;
  }
  sim.nowNs = now;
  out.okMaxCplNs = okMax;
  const n = id - id0;
  if (n > 0) {
    s.nextAtcReq = id;
    s.regs[ARM_SMMU_CMDQ_CONS / 4] = cons;
    s.consGen += n;
    s.stats.commandsConsumed += n;
  }
  if (!stopped) return cons;
  if (cons !== prod) kickConsumer(w);
  return -1;
}

/** An invalidation that will not complete before its deadline: the CMD_SYNC after it will fail. */
function outstandingFailing(w: HwWorld, req: AtcReq): void {
  const out = w.smmu.atcOut;
  out.failing.push(req);
  if (w.traceOn) out.traced.push(req);
}

/** The trace records of one ATC_INV consumed: CONS moves, the request goes out. Returns the request's record. */
function traceAtcInvSend(w: HwWorld, slot: number, cons: number, base: number, id: number): number {
  traceConsume(w, slot, CMDQ_OP_ATC_INV, cons);
  const q = w.smmu.cmdq;
  const w2 = q[base + 2]!;
  const w3 = q[base + 3]!;
  const all = (w2 & 0x3f) >= ATC_INV_SIZE_ALL;
  return emit(w, 'atc.inv.send', {
    req: id,
    sid: q[base + 1]! >>> 0,
    ssid: atcInvSsid(q[base]!),
    all,
    first: atcInvFirst(w2, w3),
    last: all ? -1 : atcInvLast(w2, w3),
  });
}

/** The outstanding request for the ATC_INV at `base`. */
function atcReqAt(
  q: Uint32Array,
  base: number,
  id: number,
  slot: number,
  sentNs: number,
  deadlineNs: number,
  cplNs: number,
  traceId: number,
): AtcReq {
  const w0 = q[base]!;
  const w2 = q[base + 2]!;
  const w3 = q[base + 3]!;
  return {
    id,
    sid: q[base + 1]! >>> 0,
    ssid: atcInvSsid(w0),
    ssv: atcInvSsv(w0),
    first: atcInvFirst(w2, w3),
    last: atcInvLast(w2, w3),
    slot,
    sentNs,
    deadlineNs,
    cplNs,
    traceId,
  };
}

/** Reserved fields or out-of-range operands make a command illegal (CERROR_ILL). */
function commandIsLegal(op: number, w0: number, w1: number): boolean {
  switch (op) {
    case CMDQ_OP_ATC_INV:
    case CMDQ_OP_CFGI_STE:
    case CMDQ_OP_PRI_RESP:
    case CMDQ_OP_RESUME:
      // StreamID beyond SMMU_IDR1.SIDSIZE.
      return w1 >>> 0 < 1 << SIDSIZE;
    default:
      void w0;
      return true;
  }
}

/**
 * CMD_SYNC completes only when every earlier ATC_INV has completed. If one
 * outlives the ATC invalidation timeout first, the sync fails with
 * CERROR_ATC_INV_SYNC and the invalidations past their deadline are
 * dropped ("will never complete"). Returns true when the sync completes now.
 * A sync that waits only for invalidations completing in time completes at
 * the last of them: when nothing else is due before then (the limits of
 * onConsume()), the consumer runs ahead to that time within this event;
 * otherwise it parks at the sync until the time it resolves.
 */
function resolveSync(w: HwWorld, slot: number, stopAt: number, stopAfter: number): boolean {
  const s = w.smmu;
  const out = s.atcOut;
  cancel(w, s.consumer.syncTimer);
  s.consumer.syncTimer = -1;
  traceCompletions(w);
  const okAt = out.okMaxCplNs;
  if (okAt > w.s.nowNs && out.failing.length === 0 && okAt < stopAt && okAt <= stopAfter) {
    if (w.traceOn && !s.consumer.waitingSync) note(w, 'cmdq.sync.wait', { slot });
    w.s.nowNs = okAt;
    // What an event at this time would do first: the endpoints' purges due
    // by now take effect (their records do not become the cause of what follows).
    const cause = w.s.cause;
    w.bus.settle(w);
    w.s.cause = cause;
    traceCompletions(w);
  }
  const now = w.s.nowNs;
  const okPending = out.okMaxCplNs > now;
  if (!okPending && out.failing.length === 0) {
    out.okMaxCplNs = Number.NEGATIVE_INFINITY;
    s.consumer.waitingSync = false;
    return true;
  }
  // The failing ones are in send order, so the first has the earliest deadline.
  const failAt = out.failing.length > 0 ? out.failing[0]!.deadlineNs : Number.POSITIVE_INFINITY;
  if (failAt <= now) {
    let n = 0;
    while (n < out.failing.length && out.failing[n]!.deadlineNs <= now) {
      const r = out.failing[n++]!;
      note(w, 'atc.inv.timeout', { req: r.id, sid: r.sid }, r.traceId);
    }
    const gone = new Set(out.failing.slice(0, n));
    out.failing = out.failing.slice(n);
    if (w.traceOn) out.traced = out.traced.filter((r) => !gone.has(r));
    s.consumer.waitingSync = false;
    // The CMD_SYNC was executed and failed; fetched again after the ack, it counts again.
    s.stats.commandsConsumed++;
    cmdqError(w, CMDQ_ERR_CERROR_ATC_INV_IDX, slot);
    return false;
  }
  if (!s.consumer.waitingSync) {
    s.consumer.waitingSync = true;
    if (w.traceOn) note(w, 'cmdq.sync.wait', { slot });
  }
  s.consumer.syncToken++;
  // One failing invalidation decides the outcome at its deadline; otherwise the last completion does.
  const resolveAt = Number.isFinite(failAt) ? failAt : out.okMaxCplNs;
  s.consumer.syncTimer = schedule(w, resolveAt, { k: 'hw.sync_deadline', token: s.consumer.syncToken });
  return false;
}

/** Trace records for the outstanding invalidations that have completed by now (the trace keeps them for this). */
function traceCompletions(w: HwWorld): void {
  const out = w.smmu.atcOut;
  if (out.traced.length === 0) return;
  const now = w.s.nowNs;
  out.traced = out.traced.filter((r) => {
    if (r.cplNs <= now && r.cplNs <= r.deadlineNs) {
      note(w, 'atc.inv.complete', { req: r.id, sid: r.sid, atNs: r.cplNs }, r.traceId);
      return false;
    }
    return true;
  });
}

/** A parked CMD_SYNC reaches the time it resolves (its last completion or its first timeout). */
export function onSyncDeadline(w: HwWorld, token: number): void {
  const s = w.smmu;
  if (token !== s.consumer.syncToken) return;
  s.consumer.syncTimer = -1;
  if (!s.consumer.waitingSync) return;
  if (!canConsume(w)) {
    s.consumer.waitingSync = false;
    return;
  }
  const slot = Q_IDX(s.cmdqShift, consRd(w));
  if (resolveSync(w, slot, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY)) {
    advanceCons(w, slot, CMDQ_OP_CMD_SYNC);
    kickConsumer(w);
  }
}

/** Injected fault: the next command fetch takes an external abort (CERROR_ABT). */
export function injectCmdqAbort(w: HwWorld): void {
  w.smmu.consumer.pendingAbort = true;
  note(w, 'smmu.fault', { kind: 'cmdq-abort' });
  kickConsumer(w);
}

/**
 * Injected fault: the SMMU's next write of an event record takes an
 * external abort; the record is lost and GERROR.EVTQ_ABT_ERR is raised.
 */
export function injectEvtqAbort(w: HwWorld): void {
  w.smmu.evtqAbortPending = true;
  emit(w, 'smmu.fault', { kind: 'evtq-abort' });
}

/** Injected fault: the SMMU enters Service Failure Mode. */
export function injectSfm(w: HwWorld): void {
  w.smmu.sfm = true;
  emit(w, 'smmu.fault', { kind: 'sfm' });
  raiseGerror(w, GERROR_SFM_ERR);
}

/* ---------------------------------------------------------- stream table */

export function steL2(w: HwWorld, sid: number, create: boolean): { arr: Uint32Array; base: number } | null {
  const l1 = sid >>> STRTAB_SPLIT;
  let t = w.smmu.strtabL2[l1];
  if (!t) {
    if (!create) return null;
    t = new Uint32Array((1 << STRTAB_SPLIT) * STE_WORDS);
    w.smmu.strtabL2[l1] = t;
  }
  return { arr: t, base: (sid & ((1 << STRTAB_SPLIT) - 1)) * STE_WORDS };
}

function refreshSteCache(w: HwWorld, sid: number): void {
  const loc = steL2(w, sid, false);
  if (!loc) {
    delete w.smmu.steCache[sid];
    return;
  }
  w.smmu.steCache[sid] = Array.from(loc.arr.subarray(loc.base, loc.base + STE_WORDS));
  const f = readSte(loc.arr, loc.base);
  note(w, 'ste.cfgi', { sid, v: f.v, config: f.config, eats: f.eats });
}

/** The STE the SMMU uses for `sid`: its cached copy, fetched on first use. */
export function steForTranslation(w: HwWorld, sid: number): ReturnType<typeof readSte> | null {
  let cached = w.smmu.steCache[sid];
  if (!cached) {
    const loc = steL2(w, sid, false);
    if (!loc) return null;
    cached = Array.from(loc.arr.subarray(loc.base, loc.base + STE_WORDS));
    w.smmu.steCache[sid] = cached;
  }
  // The cached words are read through one scratch array (Uint32Array.from()
  // would make a new one through the iterator protocol on every DMA).
  const words = STE_SCRATCH;
  for (let i = 0; i < STE_WORDS; i++) words[i] = cached[i]!;
  return readSte(words, 0);
}

/** steForTranslation()'s copy of a cached STE, read at once by readSte(). */
const STE_SCRATCH = new Uint32Array(STE_WORDS);

/* ------------------------------------------------------------ event queue */

export interface EvtRecord {
  id: number;
  sid: number;
  ssid: number;
  ssv: boolean;
  addr: number;
  read: boolean;
}

export function recordEvent(w: HwWorld, e: EvtRecord): void {
  const s = w.smmu;
  if (!(readReg(w, ARM_SMMU_CR0) & CR0_EVTQEN)) return;
  const prod = readReg(w, ARM_SMMU_EVTQ_PROD);
  const cons = readReg(w, ARM_SMMU_EVTQ_CONS);
  if (queueFull(EVTQ_SHIFT, prod, cons)) {
    note(w, 'evtq.overflow', { id: e.id, sid: e.sid });
    return;
  }
  if (s.evtqAbortPending) {
    // The write to the queue's memory aborts: PROD does not move, the record is lost.
    s.evtqAbortPending = false;
    emit(w, 'evtq.abort', { id: e.id, sid: e.sid });
    raiseGerror(w, GERROR_EVTQ_ABT_ERR);
    return;
  }
  const base = Q_IDX(EVTQ_SHIFT, prod) * EVTQ_ENT_WORDS;
  s.evtq.fill(0, base, base + EVTQ_ENT_WORDS);
  setField(s.evtq, base, EVTQ_0_ID, e.id);
  setField(s.evtq, base, EVTQ_0_SSV, e.ssv ? 1 : 0);
  setField(s.evtq, base, EVTQ_0_SSID, e.ssid);
  setField(s.evtq, base, EVTQ_0_SID, e.sid);
  setField(s.evtq, base, EVTQ_1_RNW, e.read ? 1 : 0);
  setField(s.evtq, base, EVTQ_2_ADDR, e.addr);
  s.regs[ARM_SMMU_EVTQ_PROD / 4] = queueIncN(EVTQ_SHIFT, prod, 1);
  s.stats.eventsRecorded++;
  emit(w, 'evtq.record', { event: EVENT_SPEC_NAMES[e.id] ?? `0x${e.id.toString(16)}`, id: e.id, sid: e.sid, addr: e.addr });
  if (readReg(w, ARM_SMMU_IRQ_CTRL) & IRQ_CTRL_EVTQ_IRQEN && !s.evtqIrqPending) {
    s.evtqIrqPending = true;
    schedule(w, w.s.nowNs + w.hwcfg.evtqIrqLatencyNs, { k: 'irq.evtq' });
  }
}

export function evtqPending(w: HwWorld): number {
  return EVTQ_SHIFT >= 0
    ? (1 << EVTQ_SHIFT) - queueSpace(EVTQ_SHIFT, readReg(w, ARM_SMMU_EVTQ_PROD), readReg(w, ARM_SMMU_EVTQ_CONS))
    : 0;
}

/* -------------------------------------------------------------- DMA checks */

export type DmaVerdict = { ok: true; pfn: number; via: 'translated' | 'untranslated' | 'bypass' } | { ok: false; reason: string };

function dmaGloballyAborted(w: HwWorld): string | null {
  if (w.smmu.sfm) return 'SMMU in Service Failure Mode';
  if (!(readReg(w, ARM_SMMU_CR0) & CR0_SMMUEN)) {
    return readReg(w, ARM_SMMU_GBPA) & GBPA_ABORT ? 'SMMUEN=0 and GBPA.ABORT=1' : null;
  }
  return null;
}

function block(w: HwWorld, reason: string, evt: EvtRecord | null): DmaVerdict {
  w.smmu.stats.blockedDma++;
  if (evt) recordEvent(w, evt);
  return { ok: false, reason };
}

/**
 * A Translated request (address from the endpoint's ATC). With CR0.ATSCHK=1
 * it is checked against the STE: EATS=0 aborts it with F_TRANSL_FORBIDDEN.
 * With ATSCHK=0 it bypasses the SMMU unchecked.
 */
export function checkTranslated(w: HwWorld, sid: number, pfn: number, write: boolean): DmaVerdict {
  const g = dmaGloballyAborted(w);
  if (g) return block(w, g, null);
  if (!(readReg(w, ARM_SMMU_CR0) & CR0_ATSCHK)) return { ok: true, pfn, via: 'bypass' };
  const ste = steForTranslation(w, sid);
  if (!ste || !ste.v) return block(w, 'STE.V=0', { id: EVT_ID_BAD_STE_CONFIG, sid, ssid: 0, ssv: false, addr: 0, read: !write });
  if (ste.config === STRTAB_STE_0_CFG_ABORT) return block(w, 'STE.Config=ABORT', null);
  const eats = ste.config === STRTAB_STE_0_CFG_BYPASS ? 0 : ste.eats;
  if (eats === 0) {
    return block(w, 'STE.EATS=0 (ATSCHK=1)', {
      id: EVT_ID_TRANSL_FORBIDDEN,
      sid,
      ssid: 0,
      ssv: false,
      addr: pfn * 4096,
      read: !write,
    });
  }
  return { ok: true, pfn, via: 'translated' };
}

/** Stage-1 walk: STE.S1ContextPtr → CD[ssid] → TTB0 → IO page table. */
function walk(
  w: HwWorld,
  ste: NonNullable<ReturnType<typeof steForTranslation>>,
  ssid: number,
  ipfn: number,
): { pfn: number; ttb: number } | null {
  const cdt = w.mem.cdTables[ste.s1ContextPtr];
  if (!cdt) return null;
  if (ssid * 16 >= cdt.length) return null;
  const cd = readCd(cdt, ssid * 16);
  if (!cd.v) return null;
  const pfn = w.mem.pgtables.get(cd.ttb0)?.get(ipfn) ?? PTE_INVALID;
  return pfn === PTE_INVALID ? null : { pfn, ttb: cd.ttb0 };
}

/** An Untranslated request: full translation through STE, CD and the IO page table. */
export function translateUntranslated(w: HwWorld, sid: number, ssid: number, iova: number, write: boolean): DmaVerdict {
  const g = dmaGloballyAborted(w);
  if (g) return block(w, g, null);
  const ste = steForTranslation(w, sid);
  if (!ste || !ste.v)
    return block(w, 'STE.V=0', { id: EVT_ID_BAD_STE_CONFIG, sid, ssid, ssv: ssid !== 0, addr: iova, read: !write });
  if (ste.config === STRTAB_STE_0_CFG_BYPASS) return { ok: true, pfn: Math.floor(iova / 4096), via: 'bypass' };
  if (ste.config !== STRTAB_STE_0_CFG_S1_TRANS) return block(w, `STE.Config=${ste.config === 0 ? 'ABORT' : ste.config}`, null);
  const t = walk(w, ste, ssid, Math.floor(iova / 4096));
  if (t === null) {
    return block(w, 'translation fault', { id: EVT_ID_TRANSLATION_FAULT, sid, ssid, ssv: ssid !== 0, addr: iova, read: !write });
  }
  return { ok: true, pfn: t.pfn, via: 'untranslated' };
}

export type AtsVerdict = { ok: true; pfn: number; ttb: number } | { ok: false; ur: boolean; reason: string };

/**
 * An ATS Translation Request. EATS=0 (or BYPASS/ABORT) returns Unsupported
 * Request and records F_BAD_ATS_TREQ; an unmapped address returns a
 * completion with no access.
 */
export function atsTranslationRequest(w: HwWorld, sid: number, ssid: number, iova: number, write: boolean): AtsVerdict {
  const g = dmaGloballyAborted(w);
  if (g) return { ok: false, ur: true, reason: g };
  const ste = steForTranslation(w, sid);
  if (!ste || !ste.v || ste.config !== STRTAB_STE_0_CFG_S1_TRANS || ste.eats === 0) {
    recordEvent(w, { id: EVT_ID_BAD_ATS_TREQ, sid, ssid, ssv: ssid !== 0, addr: iova, read: !write });
    return { ok: false, ur: true, reason: 'ATS disabled in STE (EATS=0)' };
  }
  const t = walk(w, ste, ssid, Math.floor(iova / 4096));
  if (t === null) return { ok: false, ur: false, reason: 'no translation' };
  return { ok: true, pfn: t.pfn, ttb: t.ttb };
}

/** The endpoint's response time to an ATC_INV: atcInvResponseNs plus 0 .. half of it, from the seed. */
export function atcInvResponseJitterNs(w: HwWorld): number {
  const c = w.hwcfg;
  return c.atcInvResponseNs + prngBelow(w.s.prng, c.atcInvJitterSpan, c.atcInvJitterInv);
}

export { CR0_ATSCHK, CR0_CMDQEN, CR0_EVTQEN, CR0_SMMUEN };
