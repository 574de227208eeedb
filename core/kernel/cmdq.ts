/**
 * arm-smmu-v3 command queue: the issuer, batches, the v4 retry that finds an
 * unresponsive master, the surgical STE update, CMDQ error handling, the
 * GERROR interrupt handler and the event-queue thread
 * (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c, seed 003 #12-#24).
 */
import { emit, note } from './trace.ts';
import { hex32, hex64 } from '../sim/format.ts';
import {
  CMDQ_ENT_WORDS,
  CMDQ_OP_ATC_INV,
  CMDQ_SYNC_0_CS_SEV,
  OPCODE_BY_NAME,
  cmdSid,
  decodeCmd,
  encodeCmd,
  makeCmdCfgiSte,
  makeCmdSync,
  opcodeName,
  type Cmd,
} from '../hw/cmd.ts';
import {
  ARM_SMMU_CMDQ_CONS,
  ARM_SMMU_CMDQ_PROD,
  ARM_SMMU_CR0,
  ARM_SMMU_EVTQ_CONS,
  ARM_SMMU_EVTQ_PROD,
  ARM_SMMU_GERROR,
  ARM_SMMU_GERRORN,
  CMDQ_CONS_ERR_MASK,
  CMDQ_CONS_ERR_SHIFT,
  CMDQ_ERR_CERROR_ABT_IDX,
  CMDQ_ERR_CERROR_ATC_INV_IDX,
  CMDQ_ERR_CERROR_NONE_IDX,
  GERROR_CMDQ_ERR,
  GERROR_ERR_MASK,
  GERROR_EVTQ_ABT_ERR,
  GERROR_MSI_CMDQ_ABT_ERR,
  GERROR_MSI_EVTQ_ABT_ERR,
  GERROR_MSI_GERROR_ABT_ERR,
  GERROR_MSI_PRIQ_ABT_ERR,
  GERROR_PRIQ_ABT_ERR,
  GERROR_SFM_ERR,
  Q_IDX,
  cerrorStr,
  queueEmpty,
  queueIncN,
  queueSpace,
} from '../hw/regs.ts';
import { consRd, readReg, steL2, writeReg, EVTQ_SHIFT } from '../hw/smmu.ts';
import {
  EVTQ_0_ID,
  EVTQ_0_SID,
  EVTQ_0_SSID,
  EVTQ_0_SSV,
  EVTQ_1_RNW,
  EVTQ_2_ADDR,
  EVTQ_ENT_WORDS,
  KERNEL_EVENT_STR,
  EVT_ID_TRANSLATION_FAULT,
  EVT_ID_PERMISSION_FAULT,
  setSteEats,
  STRTAB_STE_1_EATS_ABT,
} from '../hw/ste.ts';
import { getField } from '../hw/bits.ts';
import { setAtsEnable } from '../pci/endpoint.ts';
import type { CmdSpec } from '../scenario/types.ts';
import { FN, type FrameHead } from './fn.ts';
import { unlock } from './locks.ts';
import { call, lock, poll, ret, reuseFrame, type Task, type Yield } from './task.ts';
import { hashx, smmuLog, smmuLogRatelimited, ratelimitOk, warnOn } from './printk.ts';
import { atsBrokenLock, EIO, ETIMEDOUT, masterOf, recordCall } from './util.ts';
import { iommu_report_device_broken } from './iommu-report.ts';
import type { Batch, Inv, KWorld } from './state.ts';

export type { Batch };

/** arm_smmu_cmdq_build_sync_cmd() with CS = SEV and no MSI: the same four words every time. */
const CMD_SYNC_SEV_WORDS: readonly number[] = encodeCmd(makeCmdSync(CMDQ_SYNC_0_CS_SEV));

/** Write that CMD_SYNC into the queue slot at word `base`. */
function writeCmdSync(q: Uint32Array, base: number): void {
  q[base] = CMD_SYNC_SEV_WORDS[0]!;
  q[base + 1] = CMD_SYNC_SEV_WORDS[1]!;
  q[base + 2] = CMD_SYNC_SEV_WORDS[2]!;
  q[base + 3] = CMD_SYNC_SEV_WORDS[3]!;
}

/** arm_smmu_cmdq_batch_init_cmd(): an empty batch; `invs` is the array it is built from (not copied). */
export function newBatch(w: KWorld, invs: Inv[] | null): Batch {
  const b = w.k.batchPool.pop();
  if (b === undefined) {
    const size = w.kcfg.batchEntries;
    return {
      cmds: new Uint32Array(size * CMDQ_ENT_WORDS),
      num: 0,
      hasAts: false,
      atcInvs: 0,
      invs,
      addedNs: new Float64Array(size),
    };
  }
  b.invs = invs;
  return b;
}

/** The batch's function returns: the batch goes back to the pool, empty. */
export function freeBatch(w: KWorld, b: Batch): void {
  batchReset(b);
  b.invs = null;
  w.k.batchPool.push(b);
}

function batchLen(b: Batch): number {
  return b.num;
}

/* ------------------------------------------------------------------------ */
/* Synchronous helpers (no waits)                                            */
/* ------------------------------------------------------------------------ */

/** __arm_smmu_cmdq_skip_err(): report the CMDQ error at CONS and make the queue able to progress. */
export function arm_smmu_cmdq_skip_err(w: KWorld): void {
  const cons = readReg(w, ARM_SMMU_CMDQ_CONS);
  const idx = (cons >>> CMDQ_CONS_ERR_SHIFT) & CMDQ_CONS_ERR_MASK;
  smmuLog(w, 'err', `CMDQ error (cons ${hex32(cons)}): ${cerrorStr(idx)}`);
  const shift = w.smmu.cmdqShift;
  const slot = Q_IDX(shift, cons);
  switch (idx) {
    case CMDQ_ERR_CERROR_ABT_IDX:
      smmuLog(w, 'err', 'retrying command fetch');
      return;
    case CMDQ_ERR_CERROR_NONE_IDX:
      return;
    case CMDQ_ERR_CERROR_ATC_INV_IDX:
      // CONS still points at the CMD_SYNC: repeating it may complete the other commands.
      if (w.kcfg.flags.atcTimeoutDetect) {
        // Mark the faulty batch in the bitmap for the issuer to match (seed 003 #12).
        w.k.cmdq.atcSyncTimeouts[slot] = 1;
        w.k.cmdq.bitCause[slot] = emit(w, 'atc_sync_timeouts.set', { slot });
      }
      return;
    default: {
      // CERROR_ILL: log the command and replace it with a CMD_SYNC.
      const base = slot * CMDQ_ENT_WORDS;
      const q = w.smmu.cmdq;
      smmuLog(w, 'err', 'skipping command in error state:');
      smmuLog(w, 'err', `\t${hex64(q[base]!, q[base + 1]!)}`);
      smmuLog(w, 'err', `\t${hex64(q[base + 2]!, q[base + 3]!)}`);
      writeCmdSync(q, base);
      emit(w, 'cmdq.rewrite', { slot, op: 'CMD_SYNC', why: 'CERROR_ILL' });
    }
  }
}

/**
 * arm_smmu_cmdq_err_handler(): the issuer drains a pending CMDQ_ERR itself,
 * serialised with the ISR on cmdq_err_lock, toggling only CMDQ_ERR in
 * GERRORN (seed 003 #15).
 */
export function arm_smmu_cmdq_err_handler(w: KWorld): void {
  const gerror = readReg(w, ARM_SMMU_GERROR);
  const gerrorn = readReg(w, ARM_SMMU_GERRORN);
  if (!((gerror ^ gerrorn) & GERROR_CMDQ_ERR)) return;
  emit(w, 'cmdq.coclear', { gerror: hex32(gerror), gerrorn: hex32(gerrorn) });
  arm_smmu_cmdq_skip_err(w);
  writeReg(w, ARM_SMMU_GERRORN, gerrorn ^ GERROR_CMDQ_ERR);
}

/** arm_smmu_device_disable(): CR0 := 0. */
function arm_smmu_device_disable(w: KWorld): void {
  writeReg(w, ARM_SMMU_CR0, 0);
}

/** Which master an ATS invalidation for `sid` belongs to (arm_smmu_invs_find_ats_master). */
function findAtsMaster(invs: Inv[], sid: number): string | null {
  for (const inv of invs) if (inv.type === 'ATS' && inv.id === sid && inv.master) return inv.master;
  return null;
}

/* ------------------------------------------------------------------------ */
/* Kernel functions that can wait                                            */
/* ------------------------------------------------------------------------ */

/*
 * Each frame is built as one whole literal by its constructor (header and
 * locals together): one allocation and one object shape per function.
 */

/** arm_smmu_cmdq_issue_cmdlist()'s locals. */
export interface IssueCmdlistFrame extends FrameHead<'arm_smmu_cmdq_issue_cmdlist'> {
  /** reserve: queue_has_space(); space_polled: after waiting for space; write: copy and publish; sync_polled: after the CMD_SYNC poll. */
  pc: 'reserve' | 'space_polled' | 'write' | 'sync_polled';
  cmds: Uint32Array;
  n: number;
  sync: boolean;
  /** When each command's path checked ats_broken (a batch's addedNs), or null. */
  addedNs: Float64Array | null;
  atcInvs: number;
  /** The commands are a scenario's own (a `cmd` step), not ones the kernel builds. */
  byScenario: boolean;
  need: number;
  syncProd: number;
  llqProd: number;
}

/**
 * The issue of `n` commands (all of `cmds` by default). `atcInvs`: how many
 * are ATC_INVs, when the caller has counted them (a batch keeps the count).
 */
export function issueCmdlist(
  cmds: Uint32Array,
  sync: boolean,
  addedNs?: Float64Array,
  n?: number,
  atcInvs?: number,
  byScenario = false,
): IssueCmdlistFrame {
  const num = n ?? cmds.length / CMDQ_ENT_WORDS;
  const f = (reuseFrame(FN.arm_smmu_cmdq_issue_cmdlist) as IssueCmdlistFrame | undefined) ?? {
    fn: 'arm_smmu_cmdq_issue_cmdlist',
    id: FN.arm_smmu_cmdq_issue_cmdlist,
    pc: 'reserve',
    startNs: -1,
    cmds,
    n: 0,
    sync,
    addedNs: null,
    atcInvs: 0,
    byScenario,
    need: 0,
    syncProd: 0,
    llqProd: 0,
  };
  f.pc = 'reserve';
  f.startNs = -1;
  f.cmds = cmds;
  f.n = num;
  f.sync = sync;
  f.addedNs = addedNs ?? null;
  f.atcInvs = atcInvs ?? countAtcInvs(cmds, num);
  f.byScenario = byScenario;
  f.need = 0;
  f.syncProd = 0;
  f.llqProd = 0;
  return f;
}

function countAtcInvs(cmds: Uint32Array, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if ((cmds[i * CMDQ_ENT_WORDS]! & 0xff) === CMDQ_OP_ATC_INV) c++;
  return c;
}

/** A command's four words, for an issue of that one command. */
export function cmdWords(cmd: Cmd): Uint32Array {
  return Uint32Array.from(encodeCmd(cmd));
}

/** arm_smmu_cmdq_issue_cmdlist(): reserve, write, publish PROD, poll the CMD_SYNC. */
function arm_smmu_cmdq_issue_cmdlist(w: KWorld, t: Task, f: IssueCmdlistFrame): Yield {
  const shift = w.smmu.cmdqShift;
  const kc = w.k.cmdq;
  const fl = w.kcfg.flags;
  const n = f.n;
  for (;;) {
    switch (f.pc) {
      case 'reserve': {
        // 1. Allocate space (queue_has_space against the shadow cons).
        f.need = n + (f.sync ? 1 : 0);
        if (queueSpace(shift, kc.prod, kc.cons) >= f.need) {
          f.pc = 'write';
          continue;
        }
        kc.cons = consRd(w);
        if (queueSpace(shift, kc.prod, kc.cons) >= f.need) {
          f.pc = 'write';
          continue;
        }
        if (w.traceOn) emit(w, 'cmdq.full', { task: t.id, need: f.need, prod: hex32(kc.prod), cons: hex32(kc.cons) });
        // The HW may be stalled by an unhandled CMDQ_ERR: drain it (seed 003 #16).
        if (fl.coClear) arm_smmu_cmdq_err_handler(w);
        f.pc = 'space_polled';
        return poll({ type: 'cmdq_space', need: f.need }, w.kcfg.pollTimeoutNs);
      }
      case 'space_polled':
        if (t.rv === ETIMEDOUT) smmuLogRatelimited(w, 'err', 'arm_smmu_cmdq_issue_cmdlist', 'CMDQ timeout');
        kc.cons = consRd(w);
        f.pc = 'reserve';
        continue;
      case 'write': {
        // 2. Write the commands (and a CMD_SYNC) into the reserved slots: the
        // words go into the ring as a block (two where it wraps).
        const prod = kc.prod;
        const q = w.smmu.cmdq;
        const cmds = f.cmds;
        const mask = (1 << shift) - 1;
        const first = Q_IDX(shift, prod);
        const room = mask + 1 - first;
        const k = n < room ? n : room;
        copyWords(q, first * CMDQ_ENT_WORDS, cmds, 0, k * CMDQ_ENT_WORDS);
        if (k < n) copyWords(q, 0, cmds, k * CMDQ_ENT_WORDS, (n - k) * CMDQ_ENT_WORDS);
        if (w.k.brokenMasters > 0) {
          for (let i = 0; i < n; i++)
            if ((cmds[i * CMDQ_ENT_WORDS]! & 0xff) === CMDQ_OP_ATC_INV) checkAtcInvToBroken(w, f, i, (first + i) & mask);
        }
        if (w.traceOn) {
          for (let i = 0; i < n; i++)
            note(w, 'cmdq.write', { slot: (first + i) & mask, op: opcodeName(cmds[i * CMDQ_ENT_WORDS]! & 0xff), task: t.id });
        }
        w.k.stats.atcInvIssued += f.atcInvs;
        if (f.sync) {
          const idx = queueIncN(shift, prod, n);
          const slot = Q_IDX(shift, idx);
          writeCmdSync(q, slot * CMDQ_ENT_WORDS);
          if (w.traceOn) note(w, 'cmdq.write', { slot, op: 'CMD_SYNC', task: t.id });
          // Clear a stale ATC-timeout bit before the slot becomes visible (seed 003 #12).
          if (fl.atcTimeoutDetect && kc.atcSyncTimeouts[slot]) {
            kc.atcSyncTimeouts[slot] = 0;
            note(w, 'atc_sync_timeouts.clear', { slot }, kc.bitCause[slot]);
          }
        }
        kc.prod = queueIncN(shift, prod, f.need);
        f.syncProd = queueIncN(shift, prod, n);
        // 4. Publish PROD.
        writeReg(w, ARM_SMMU_CMDQ_PROD, kc.prod);
        if (!f.sync) return ret(0);
        // __arm_smmu_cmdq_poll_until_consumed() reloads llq->val from the shared
        // shadow (llq.prod then reads as the next free slot), which the timeout line prints.
        f.llqProd = kc.prod;
        // 5. Wait for our CMD_SYNC to be consumed.
        f.pc = 'sync_polled';
        return poll({ type: 'cmdq_consumed', prod: f.syncProd }, w.kcfg.pollTimeoutNs);
      }
      case 'sync_polled': {
        let r = t.rv;
        // A late GERROR ISR may not have run yet: drain a pending CMDQ_ERR first (seed 003 #15).
        if (r && fl.coClear) arm_smmu_cmdq_err_handler(w);
        const slot = Q_IDX(shift, f.syncProd);
        if (fl.atcTimeoutDetect && kc.atcSyncTimeouts[slot]) {
          kc.atcSyncTimeouts[slot] = 0;
          emit(w, 'atc_sync_timeouts.test', { slot, set: true }, kc.bitCause[slot]);
          smmuLogRatelimited(
            w,
            'err',
            'arm_smmu_cmdq_issue_cmdlist',
            'CMD_SYNC for ATC_INV timeout at prod=0x%08x',
            `CMD_SYNC for ATC_INV timeout at prod=${hex32(f.syncProd)}`,
          );
          r = EIO;
        } else if (r) {
          smmuLogRatelimited(
            w,
            'err',
            'arm_smmu_cmdq_issue_cmdlist',
            'CMD_SYNC timeout at 0x%08x [hwprod 0x%08x, hwcons 0x%08x]',
            `CMD_SYNC timeout at ${hex32(f.llqProd)} [hwprod ${hex32(readReg(w, ARM_SMMU_CMDQ_PROD))}, hwcons ${hex32(readReg(w, ARM_SMMU_CMDQ_CONS))}]`,
          );
        }
        kc.cons = consRd(w);
        if (w.traceOn) emit(w, 'cmdq.sync.done', { task: t.id, prod: hex32(f.syncProd), ret: r });
        return ret(r);
      }
    }
  }
}

/**
 * Copy `len` words of `src` from `from` into `dst` at `at`: the whole array
 * or a long run as a block (TypedArray.set, a memory copy), a short run word
 * by word (a view for it would cost more than the copy).
 */
function copyWords(dst: Uint32Array, at: number, src: Uint32Array, from: number, len: number): void {
  if (from === 0 && len === src.length) dst.set(src, at);
  else if (len >= 64) dst.set(src.subarray(from, from + len), at);
  else for (let j = 0; j < len; j++) dst[at + j] = src[from + j]!;
}

/** Invariant: under atsBrokenFence no ATC_INV is built for a master already marked ats_broken. */
function checkAtcInvToBroken(w: KWorld, f: IssueCmdlistFrame, i: number, slot: number): void {
  if (!w.kcfg.flags.atsBrokenFence || w.k.brokenMasters === 0) return;
  const sid = cmdSid(f.cmds, i * CMDQ_ENT_WORDS);
  const bdf = w.k.streams[sid];
  const m = bdf ? masterOf(w, bdf) : undefined;
  if (!m || !m.atsBroken) return;
  const added = f.addedNs ? f.addedNs[i] : undefined;
  // A command whose path checked ats_broken before the master turned broken (held back by a full
  // queue, or added by a loop that checks once at its start) is a real race, not a violation.
  if (added !== undefined && added < m.atsBrokenSinceNs) return;
  if (f.byScenario) {
    // The scenario's own command: the kernel's promise is not broken, but the reader should know.
    const key = `note:raw-atc-inv:${m.bdf}`;
    if (!w.k.violKeys[key]) {
      w.k.violKeys[key] = 1;
      w.out.notes.push(
        `a scenario cmd step wrote an ATC_INV to ${m.bdf} (sid ${sid}) while ats_broken is set; the kernel itself never issues one (seed 003 #18)`,
      );
    }
    return;
  }
  w.out.violations.push({
    t: w.s.nowNs,
    invariant: 'no-atc-inv-to-broken',
    message: `ATC_INV to ${m.bdf} (sid ${sid}) written to CMDQ slot ${slot} while ats_broken is set`,
    traceId: w.s.cause,
  });
}

/** arm_smmu_cmdq_batch_add_cmd_p()'s locals. */
export interface BatchAddFrame extends FrameHead<'arm_smmu_cmdq_batch_add_cmd'> {
  /** start: add (flushing a full batch first); flushed: the flush returned. */
  pc: 'start' | 'flushed';
  b: Batch;
  cmd: number[];
  /** When the caller checked ats_broken for the command (null: now). */
  checkedNs: number | null;
}

/** Add `cmd` to the batch, flushing it first when full. `checkedNs`: when the caller checked ats_broken for it. */
export function batchAdd(b: Batch, cmd: Cmd, checkedNs?: number): BatchAddFrame {
  return {
    fn: 'arm_smmu_cmdq_batch_add_cmd',
    id: FN.arm_smmu_cmdq_batch_add_cmd,
    pc: 'start',
    startNs: -1,
    b,
    cmd: encodeCmd(cmd),
    checkedNs: checkedNs ?? null,
  };
}

/** arm_smmu_cmdq_batch_submit()'s locals. */
export interface BatchSubmitFrame extends FrameHead<'arm_smmu_cmdq_batch_submit'> {
  pc: 'start' | 'issued';
  b: Batch;
}

export function batchSubmit(b: Batch): BatchSubmitFrame {
  const f = (reuseFrame(FN.arm_smmu_cmdq_batch_submit) as BatchSubmitFrame | undefined) ?? {
    fn: 'arm_smmu_cmdq_batch_submit',
    id: FN.arm_smmu_cmdq_batch_submit,
    pc: 'start',
    startNs: -1,
    b,
  };
  f.pc = 'start';
  f.startNs = -1;
  f.b = b;
  return f;
}

/** True when the batch holds CMDQ_BATCH_ENTRIES commands and must be issued before another is added. */
export function batchFull(w: KWorld, b: Batch): boolean {
  return batchLen(b) >= w.kcfg.batchEntries;
}

/**
 * Note a command just appended to b.cmds (its four words): has_ats for an
 * ATC_INV (seed 003 #19) and the time it was added.
 */
export function batchNoteAdded(w: KWorld, b: Batch, checkedNs = w.s.nowNs): void {
  if ((b.cmds[b.num * CMDQ_ENT_WORDS]! & 0xff) === CMDQ_OP_ATC_INV) {
    b.hasAts = true;
    b.atcInvs++;
  }
  b.addedNs[b.num] = checkedNs;
  b.num++;
}

/** Where the next command's words go. */
export function batchNext(b: Batch): number {
  return b.num * CMDQ_ENT_WORDS;
}

/** arm_smmu_cmdq_batch_issue()'s locals. */
export interface BatchIssueFrame extends FrameHead<'arm_smmu_cmdq_batch_issue'> {
  /** start: issue; issued: the issue returned; identified: the retry (or blame) returned. */
  pc: 'start' | 'issued' | 'identified';
  b: Batch;
  sync: boolean;
  r: number;
}

function batchIssueFrame(b: Batch, sync: boolean): BatchIssueFrame {
  const f = (reuseFrame(FN.arm_smmu_cmdq_batch_issue) as BatchIssueFrame | undefined) ?? {
    fn: 'arm_smmu_cmdq_batch_issue',
    id: FN.arm_smmu_cmdq_batch_issue,
    pc: 'start',
    startNs: -1,
    b,
    sync,
    r: 0,
  };
  f.pc = 'start';
  f.startNs = -1;
  f.b = b;
  f.sync = sync;
  f.r = 0;
  return f;
}

/**
 * The flush inside arm_smmu_cmdq_batch_add_cmd_p() when the batch is full.
 * v4 forces a sync for ATS-bearing batches so a timeout is caught here, not
 * at a later unrelated batch's CMD_SYNC (seed 003 #24). The caller empties
 * the batch (keeping its invs) when this returns.
 */
export function batchFlushFrame(w: KWorld, b: Batch): BatchIssueFrame {
  const sync = w.kcfg.flags.atcTimeoutDetect ? b.hasAts : false;
  return batchIssueFrame(b, sync);
}

/**
 * Empty the batch for reuse (the issue that read its arrays has returned).
 * Only the first `num` entries of its arrays are live; they keep their
 * length, so refilling them allocates nothing.
 */
export function batchReset(b: Batch): void {
  b.num = 0;
  b.hasAts = false;
  b.atcInvs = 0;
}

/** arm_smmu_cmdq_batch_add_cmd_p(): flush a full batch, then queue the command. */
function arm_smmu_cmdq_batch_add_cmd(w: KWorld, _t: Task, f: BatchAddFrame): Yield {
  const b = f.b;
  if (f.pc === 'start' && batchFull(w, b)) {
    f.pc = 'flushed';
    return call(batchFlushFrame(w, b));
  }
  if (f.pc === 'flushed') batchReset(b);
  const at = batchNext(b);
  for (let j = 0; j < CMDQ_ENT_WORDS; j++) b.cmds[at + j] = f.cmd[j]!;
  batchNoteAdded(w, b, f.checkedNs ?? w.s.nowNs);
  return ret(0);
}

/** arm_smmu_cmdq_batch_submit(): issue the batch with a CMD_SYNC. */
function arm_smmu_cmdq_batch_submit(_w: KWorld, t: Task, f: BatchSubmitFrame): Yield {
  if (f.pc === 'start') {
    f.pc = 'issued';
    return call(batchIssueFrame(f.b, true));
  }
  return ret(t.rv);
}

/** arm_smmu_cmdq_batch_issue(): issue; on -EIO identify the timed-out master(s) (seed 003 #20, #24). */
function arm_smmu_cmdq_batch_issue(w: KWorld, t: Task, f: BatchIssueFrame): Yield {
  const b = f.b;
  switch (f.pc) {
    case 'start':
      f.pc = 'issued';
      // The batch is not touched until this returns, so the issue reads it in place.
      return call(issueCmdlist(b.cmds, f.sync, b.addedNs, b.num, b.atcInvs));
    case 'issued':
      f.r = t.rv;
      if (f.r === EIO && b.invs) {
        f.pc = 'identified';
        if (w.kcfg.flags.retryPerSid) return call(batchRetryFrame(b));
        // The reviewer's proposal: no retry, every ATS master in the batch is treated as broken.
        return call(blameAllFrame(b));
      }
      return ret(f.r);
    case 'identified':
      return ret(f.r);
  }
}

/** arm_smmu_cmdq_batch_retry()'s locals. */
export interface BatchRetryFrame extends FrameHead<'arm_smmu_cmdq_batch_retry'> {
  /** start; next: the next ATC_INV to retry; locked: holding the master's ats_broken_lock; retried: its issue returned; done_master: release the lock. */
  pc: 'start' | 'next' | 'locked' | 'retried' | 'done_master';
  b: Batch;
  i: number;
  lastSid: number;
  master: string | null;
  cmd: Uint32Array | null;
}

function batchRetryFrame(b: Batch): BatchRetryFrame {
  return {
    fn: 'arm_smmu_cmdq_batch_retry',
    id: FN.arm_smmu_cmdq_batch_retry,
    pc: 'start',
    startNs: -1,
    b,
    i: 0,
    lastSid: -1,
    master: null,
    cmd: null,
  };
}

/**
 * arm_smmu_cmdq_batch_retry(): re-issue one ATC_INV per StreamID, with a
 * CMD_SYNC each, under the master's ats_broken_lock; a master whose retry
 * times out again is the unresponsive one (seed 003 #24).
 */
function arm_smmu_cmdq_batch_retry(w: KWorld, t: Task, f: BatchRetryFrame): Yield {
  const b = f.b;
  const invs = b.invs!;
  for (;;) {
    switch (f.pc) {
      case 'start':
        if (!invs.some((x) => x.type === 'ATS')) return ret(0);
        emit(w, 'retry.begin', { commands: batchLen(b) });
        f.pc = 'next';
        continue;
      case 'next': {
        while (f.i < batchLen(b)) {
          const cmd = decodeCmd(b.cmds, f.i * CMDQ_ENT_WORDS);
          if (cmd.op !== CMDQ_OP_ATC_INV) {
            f.i++;
            continue;
          }
          if (cmd.sid === f.lastSid) {
            f.i++;
            continue;
          }
          const bdf = findAtsMaster(invs, cmd.sid!);
          if (!bdf || !masterOf(w, bdf)?.present) {
            warnOn(w, t.pid, 'drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c', 'arm_smmu_cmdq_batch_retry', 'WARN_ON(!master)');
            f.i++;
            continue;
          }
          f.lastSid = cmd.sid!;
          f.master = bdf;
          f.cmd = b.cmds.slice(f.i * CMDQ_ENT_WORDS, (f.i + 1) * CMDQ_ENT_WORDS);
          f.pc = 'locked';
          return lock(atsBrokenLock(bdf));
        }
        return ret(0);
      }
      case 'locked': {
        const bdf = f.master!;
        const m = masterOf(w, bdf)!;
        if (m.atsBroken) {
          // A retry on a sibling SID already disabled this master's ATS.
          unlock(w, t, atsBrokenLock(bdf));
          f.i++;
          f.pc = 'next';
          continue;
        }
        emit(w, 'retry.sid', { sid: cmdSid(f.cmd!, 0), bdf });
        f.pc = 'retried';
        return call(issueCmdlist(f.cmd!, true));
      }
      case 'retried':
        f.pc = 'done_master';
        if (t.rv === EIO) return call(disableAtsFrame(f.master!));
        continue;
      case 'done_master':
        unlock(w, t, atsBrokenLock(f.master!));
        f.i++;
        f.pc = 'next';
        continue;
    }
  }
}

/** The locals of the blame-all path (the reviewer's design, no kernel counterpart). */
export interface BlameAllFrame extends FrameHead<'arm_smmu_cmdq_batch_blame_all'> {
  /** start: find the masters; next: the next master; locked: holding its ats_broken_lock; done_master: release it. */
  pc: 'start' | 'next' | 'locked' | 'done_master';
  b: Batch;
  masters: string[];
  i: number;
}

function blameAllFrame(b: Batch): BlameAllFrame {
  return {
    fn: 'arm_smmu_cmdq_batch_blame_all',
    id: FN.arm_smmu_cmdq_batch_blame_all,
    pc: 'start',
    startNs: -1,
    b,
    masters: [],
    i: 0,
  };
}

/** Without the retry: every ATS master with an ATC_INV in the failed batch is quarantined. */
function arm_smmu_cmdq_batch_blame_all(w: KWorld, t: Task, f: BlameAllFrame): Yield {
  const b = f.b;
  for (;;) {
    switch (f.pc) {
      case 'start': {
        const masters: string[] = [];
        for (let i = 0; i < batchLen(b); i++) {
          const cmd = decodeCmd(b.cmds, i * CMDQ_ENT_WORDS);
          if (cmd.op !== CMDQ_OP_ATC_INV) continue;
          const bdf = findAtsMaster(b.invs!, cmd.sid!);
          if (bdf && !masters.includes(bdf) && masterOf(w, bdf)?.present) masters.push(bdf);
        }
        f.masters = masters;
        emit(w, 'blame.all', { masters });
        f.pc = 'next';
        continue;
      }
      case 'next':
        if (f.i >= f.masters.length) return ret(0);
        f.pc = 'locked';
        return lock(atsBrokenLock(f.masters[f.i]!));
      case 'locked':
        f.pc = 'done_master';
        if (masterOf(w, f.masters[f.i]!)!.atsBroken) continue;
        return call(disableAtsFrame(f.masters[f.i]!));
      case 'done_master':
        unlock(w, t, atsBrokenLock(f.masters[f.i]!));
        f.i++;
        f.pc = 'next';
        continue;
    }
  }
}

/** arm_smmu_master_disable_ats()'s locals. */
export interface DisableAtsFrame extends FrameHead<'arm_smmu_master_disable_ats'> {
  /** start: take a batch; next_sid: clear EATS of the next SID and queue its CFGI_STE; added: the CFGI_STE was queued; submit; submitted. */
  pc: 'start' | 'next_sid' | 'added' | 'submit' | 'submitted';
  bdf: string;
  b: Batch | null;
  i: number;
}

function disableAtsFrame(bdf: string): DisableAtsFrame {
  return { fn: 'arm_smmu_master_disable_ats', id: FN.arm_smmu_master_disable_ats, pc: 'start', startNs: -1, bdf, b: null, i: 0 };
}

/**
 * arm_smmu_master_disable_ats(): the surgical STE update — clear STE.EATS on
 * every SID in place and CFGI_STE them, set ats_broken, and report the
 * device broken to the IOMMU core (seed 003 #24). Called with
 * ats_broken_lock held.
 */
function arm_smmu_master_disable_ats(w: KWorld, t: Task, f: DisableAtsFrame): Yield {
  const m = masterOf(w, f.bdf)!;
  for (;;) {
    switch (f.pc) {
      case 'start':
        f.b = newBatch(w, null);
        f.i = 0;
        f.pc = 'next_sid';
        continue;
      case 'next_sid': {
        if (f.i >= m.sids.length) {
          f.pc = 'submit';
          continue;
        }
        const sid = m.sids[f.i]!;
        const loc = steL2(w, sid, false);
        if (loc) {
          // EATS is safe to update in place (arm_smmu_get_ste_update_safe()).
          setSteEats(loc.arr, loc.base, STRTAB_STE_1_EATS_ABT);
          w.k.invDirty = true;
          emit(w, 'ste.write', { sid, bdf: m.bdf, eats: 0, why: 'ATC invalidation timeout: disable ATS' });
        }
        f.pc = 'added';
        return call(batchAdd(f.b!, makeCmdCfgiSte(sid, true)));
      }
      case 'added':
        f.i++;
        f.pc = 'next_sid';
        continue;
      case 'submit':
        f.pc = 'submitted';
        return call(batchSubmit(f.b!));
      case 'submitted':
        freeBatch(w, f.b!);
        if (t.rv) smmuLogRatelimited(w, 'err', 'arm_smmu_master_disable_ats', 'failed to disable ATS for master');
        if (!m.atsBroken) w.k.brokenMasters++;
        m.atsBroken = true;
        if (w.kcfg.flags.driverDisablesPciAts && m.atsEnabled) {
          // The reviewer's design: the driver turns ATS off at the endpoint itself.
          const ep = w.pci.endpoints[m.bdf];
          if (ep) setAtsEnable(ep, false);
          m.atsEnabled = false;
          note(w, 'ats.disable', { bdf: m.bdf, why: 'pci_disable_ats() in the driver quarantine' });
        }
        m.atsBrokenSinceNs = w.s.nowNs;
        w.k.invDirty = true;
        w.k.stats.quarantines++;
        emit(w, 'quarantine.driver', { bdf: m.bdf });
        if (w.kcfg.flags.coreQuarantine) iommu_report_device_broken(w, m.bdf);
        return ret(0);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Interrupt handlers                                                        */
/* ------------------------------------------------------------------------ */

/** An interrupt handler's frame: no locals; it runs to its end in one step. */
export interface GerrorHandlerFrame extends FrameHead<'arm_smmu_gerror_handler'> {
  pc: 'start';
}
export interface EvtqThreadFrame extends FrameHead<'arm_smmu_evtq_thread'> {
  pc: 'start';
}

export function gerrorHandlerFrame(): GerrorHandlerFrame {
  return { fn: 'arm_smmu_gerror_handler', id: FN.arm_smmu_gerror_handler, pc: 'start', startNs: -1 };
}

export function evtqThreadFrame(): EvtqThreadFrame {
  return { fn: 'arm_smmu_evtq_thread', id: FN.arm_smmu_evtq_thread, pc: 'start', startNs: -1 };
}

/** arm_smmu_gerror_handler(): the GERROR interrupt. */
function arm_smmu_gerror_handler(w: KWorld, _t: Task, _f: GerrorHandlerFrame): Yield {
  w.smmu.gerrorIrqPending = false;
  const gerror = readReg(w, ARM_SMMU_GERROR);
  const gerrorn = readReg(w, ARM_SMMU_GERRORN);
  const active = (gerror ^ gerrorn) >>> 0;
  if (!(active & GERROR_ERR_MASK)) {
    emit(w, 'irq.none', { gerror: hex32(gerror), gerrorn: hex32(gerrorn) });
    return ret(0); // IRQ_NONE: no errors pending
  }
  w.k.stats.gerrorIrqs++;
  smmuLog(w, 'warn', `unexpected global error reported (${hex32(active)}), this could be serious`);
  if (active & GERROR_SFM_ERR) {
    if (w.kcfg.flags.coClear) {
      // SMMU is being disabled, so other errors don't matter (seed 003 #13).
      writeReg(w, ARM_SMMU_GERRORN, gerror);
      smmuLog(w, 'err', 'device has entered Service Failure Mode!');
      arm_smmu_device_disable(w);
      return ret(1);
    }
    smmuLog(w, 'err', 'device has entered Service Failure Mode!');
    arm_smmu_device_disable(w);
  }
  if (active & GERROR_MSI_GERROR_ABT_ERR) smmuLog(w, 'warn', 'GERROR MSI write aborted');
  if (active & GERROR_MSI_PRIQ_ABT_ERR) smmuLog(w, 'warn', 'PRIQ MSI write aborted');
  if (active & GERROR_MSI_EVTQ_ABT_ERR) smmuLog(w, 'warn', 'EVTQ MSI write aborted');
  if (active & GERROR_MSI_CMDQ_ABT_ERR) smmuLog(w, 'warn', 'CMDQ MSI write aborted');
  if (active & GERROR_PRIQ_ABT_ERR) smmuLog(w, 'err', 'PRIQ write aborted -- events may have been lost');
  if (active & GERROR_EVTQ_ABT_ERR) smmuLog(w, 'err', 'EVTQ write aborted -- events may have been lost');
  if (active & GERROR_CMDQ_ERR) arm_smmu_cmdq_skip_err(w);
  writeReg(w, ARM_SMMU_GERRORN, gerror);
  return ret(1);
}

/** arm_smmu_evtq_thread(): drain the event queue and print each event (ratelimited). */
function arm_smmu_evtq_thread(w: KWorld, _t: Task, _f: EvtqThreadFrame): Yield {
  w.smmu.evtqIrqPending = false;
  for (;;) {
    const prod = readReg(w, ARM_SMMU_EVTQ_PROD);
    const cons = readReg(w, ARM_SMMU_EVTQ_CONS);
    if (queueEmpty(EVTQ_SHIFT, prod, cons)) break;
    const base = Q_IDX(EVTQ_SHIFT, cons) * EVTQ_ENT_WORDS;
    const q = w.smmu.evtq;
    const id = getField(q, base, EVTQ_0_ID);
    const sid = getField(q, base, EVTQ_0_SID);
    const ssv = getField(q, base, EVTQ_0_SSV);
    const ssid = ssv ? getField(q, base, EVTQ_0_SSID) : 0;
    const read = getField(q, base, EVTQ_1_RNW) === 1;
    const addr = getField(q, base, EVTQ_2_ADDR);
    if (ratelimitOk(w, 'arm_smmu_evtq_thread', 'event 0x%02x received:')) {
      smmuLog(w, 'err', `event 0x${id.toString(16).padStart(2, '0')} received:`);
      for (let i = 0; i < 4; i++) smmuLog(w, 'err', `\t${hex64(q[base + 2 * i]!, q[base + 2 * i + 1]!)}`);
      const name = KERNEL_EVENT_STR[id] ?? 'UNKNOWN';
      const client = w.k.streams[sid] ?? '(unassigned sid)';
      if (id >= EVT_ID_TRANSLATION_FAULT && id <= EVT_ID_PERMISSION_FAULT) {
        smmuLog(w, 'err', `event: ${name} client: ${client} sid: ${hashx(sid)} ssid: ${hashx(ssid)} iova: ${hashx(addr)} ipa: 0`);
        smmuLog(w, 'err', `unpriv data ${read ? 'read' : 'write'} s1 "Input address caused fault" stag: 0`);
      } else {
        smmuLog(w, 'err', `event: ${name} client: ${client} sid: ${hashx(sid)} ssid: ${hashx(ssid)}`);
      }
    }
    writeReg(w, ARM_SMMU_EVTQ_CONS, queueIncN(EVTQ_SHIFT, cons, 1));
  }
  return ret(1);
}

/* ------------------------------------------------------------------------ */
/* A scenario's raw command                                                  */
/* ------------------------------------------------------------------------ */

/** The `cmd` step's frame: a raw command issued through the driver's issue path. */
export interface StepCmdFrame extends FrameHead<'step_cmd'> {
  pc: 'start' | 'issued';
  words: Uint32Array;
  sync: boolean;
  /** How the call is listed ("ATC_INV", "raw 0x.. 0x.."). */
  desc: string;
}

/** The words of a scenario's `cmd` (named fields, or two raw 64-bit words). */
function cmdFromSpec(spec: CmdSpec): Uint32Array {
  if (Array.isArray(spec.raw)) {
    const words: number[] = [];
    for (const dw of spec.raw) {
      const hex = dw.slice(2).padStart(16, '0');
      words.push(parseInt(hex.slice(8), 16) >>> 0, parseInt(hex.slice(0, 8), 16) >>> 0);
    }
    return Uint32Array.from(words);
  }
  const cmd: Record<string, unknown> = { op: OPCODE_BY_NAME[spec.op as string] };
  for (const [k, v] of Object.entries(spec)) {
    if (k === 'op' || k.startsWith('x-')) continue;
    cmd[k] = typeof v === 'string' && v.startsWith('0x') ? parseInt(v.slice(2), 16) : v;
  }
  return cmdWords(cmd as unknown as Cmd);
}

export function stepCmdFrame(spec: CmdSpec, sync: boolean): StepCmdFrame {
  const desc = spec.raw ? `raw ${spec.raw.join(' ')}` : String(spec.op);
  return { fn: 'step_cmd', id: FN.step_cmd, pc: 'start', startNs: -1, words: cmdFromSpec(spec), sync, desc };
}

/** A raw command issued through arm_smmu_cmdq_issue_cmdlist(), recorded as a call. */
function step_cmd(w: KWorld, t: Task, f: StepCmdFrame): Yield {
  if (f.pc === 'start') {
    f.pc = 'issued';
    return call(issueCmdlist(f.words, f.sync, undefined, undefined, undefined, true));
  }
  recordCall(w, f.startNs, 'arm_smmu_cmdq_issue_cmdlist', [f.desc, f.sync ? 'sync' : 'nosync'], t.rv);
  return ret(t.rv);
}

/** The command-queue functions and their frames (kernel/fns.ts runs them). */
export const CMDQ_FNS = {
  arm_smmu_cmdq_issue_cmdlist,
  arm_smmu_cmdq_batch_add_cmd,
  arm_smmu_cmdq_batch_submit,
  arm_smmu_cmdq_batch_issue,
  arm_smmu_cmdq_batch_retry,
  arm_smmu_cmdq_batch_blame_all,
  arm_smmu_master_disable_ats,
  arm_smmu_gerror_handler,
  arm_smmu_evtq_thread,
  step_cmd,
};

export type CmdqFrame =
  | IssueCmdlistFrame
  | BatchAddFrame
  | BatchSubmitFrame
  | BatchIssueFrame
  | BatchRetryFrame
  | BlameAllFrame
  | DisableAtsFrame
  | GerrorHandlerFrame
  | EvtqThreadFrame
  | StepCmdFrame;
