/**
 * arm-smmu-v3 driver paths around the command queue: STE writes under
 * ats_broken_lock, attach (prepare / install STE / commit with ATS enable,
 * flush or disable), ATC invalidation of a master, domain range invalidation,
 * PASID set/remove, reset_device_done and release_device
 * (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c).
 */
import { emit, note } from './trace.ts';
import {
  ATC_INV_SIZE_ALL,
  CMDQ_OP_ATC_INV,
  CMDQ_OP_CFGI_CD,
  appendTlbiNhVa,
  atcInvSpan,
  makeCmdAtcInv,
  makeCmdCfgiSte,
  makeCmdPrefetchCfg,
} from '../hw/cmd.ts';
import { SSIDSIZE, steL2 } from '../hw/smmu.ts';
import {
  CD_WORDS,
  STE_WORDS,
  STRTAB_STE_0_CFG_ABORT,
  STRTAB_STE_0_CFG_BYPASS,
  STRTAB_STE_0_CFG_S1_TRANS,
  STRTAB_STE_1_EATS_ABT,
  STRTAB_STE_1_EATS_TRANS,
  STRTAB_STE_1_S1DSS_SSID0,
  STRTAB_STE_1_SHCFG_INCOMING,
  readSte,
  writeCd,
  writeSte,
  type SteFields,
} from '../hw/ste.ts';
import { setAtsEnable } from '../pci/endpoint.ts';
import { batchAdd, batchFlushFrame, batchReset, batchSubmit, cmdWords, freeBatch, issueCmdlist, newBatch } from './cmdq.ts';
import { FN, type FrameHead } from './fn.ts';
import { unlock } from './locks.ts';
import { call, lock, ret, reuseFrame, type Task, type Yield } from './task.ts';
import { atsBrokenLock, masterOf } from './util.ts';
import { arm_smmu_write_entry, type EntryPlan } from './ste-writer.ts';
import { warnOn } from './printk.ts';

const SMMU_C = 'drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c';
import { BLOCKED_DOMAIN, type Batch, type Inv, type KDomain, type KMaster, type KWorld } from './state.ts';

/* ------------------------------------------------------------- helpers */

/** arm_smmu_ats_supported(): ATS capable, and not broken (seed 003 #18, gated by the fence). */
export function atsSupported(w: KWorld, m: KMaster): boolean {
  if (!m.atsCap) return false;
  if (w.kcfg.flags.atsBrokenFence && m.atsBroken) return false;
  return true;
}

export function domainOf(w: KWorld, id: string | null): KDomain | null {
  if (id === null) return null;
  return w.k.domains.get(id) ?? null;
}

/** The STE the driver builds for `m` attached to domain `dom`. */
export function buildSte(w: KWorld, m: KMaster, domId: string | null, ats: boolean): SteFields {
  const d = domainOf(w, domId);
  const base: SteFields = {
    v: 1,
    config: STRTAB_STE_0_CFG_ABORT,
    s1fmt: 0,
    s1ContextPtr: 0,
    s1cdmax: 0,
    s1dss: 0,
    eats: STRTAB_STE_1_EATS_ABT,
    strw: 0,
    shcfg: 0,
  };
  if (!d || d.type === 'blocked') return base;
  // arm_smmu_make_bypass_ste(): SHCFG "incoming".
  if (d.type === 'identity') return { ...base, config: STRTAB_STE_0_CFG_BYPASS, shcfg: STRTAB_STE_1_SHCFG_INCOMING };
  return {
    ...base,
    config: STRTAB_STE_0_CFG_S1_TRANS,
    s1ContextPtr: m.cdTab,
    s1cdmax: m.pasidCap ? SSIDSIZE : 0,
    s1dss: STRTAB_STE_1_S1DSS_SSID0,
    eats: ats ? STRTAB_STE_1_EATS_TRANS : STRTAB_STE_1_EATS_ABT,
  };
}

function invCmp(a: Inv, b: Inv): number {
  if (a.type !== b.type) return a.type === 'S1_ASID' ? -1 : 1;
  return a.id - b.id || a.ssid - b.ssid;
}

/** Add a master to a domain's invalidation array (arm_smmu_attach_prepare's invs merge). */
export function invsAdd(d: KDomain, m: KMaster, withAts: boolean, ssid: number): void {
  if (d.type !== 'paging') return;
  // A new array (readers in the middle of an invalidation keep the old one).
  const invs = d.invs.slice();
  const asid = invs.find((x) => x.type === 'S1_ASID');
  if (asid) asid.users++;
  else invs.push({ type: 'S1_ASID', id: d.asid, ssid: 0, master: null, users: 1 });
  if (withAts) {
    for (const sid of m.sids) {
      if (!invs.some((x) => x.type === 'ATS' && x.id === sid && x.ssid === ssid)) {
        invs.push({ type: 'ATS', id: sid, ssid, master: m.bdf, users: 1 });
      }
    }
  }
  invs.sort(invCmp);
  d.invs = invs;
}

/** Remove a master (optionally one PASID) from a domain's invalidation array. */
export function invsRemove(d: KDomain, m: KMaster, ssid: number | null): void {
  const asid = d.invs.find((x) => x.type === 'S1_ASID');
  if (asid && --asid.users <= 0) d.invs = d.invs.filter((x) => x !== asid);
  d.invs = d.invs.filter((x) => !(x.type === 'ATS' && x.master === m.bdf && (ssid === null || x.ssid === ssid)));
}

/* -------------------------------------------------------- kernel functions */

/** arm_smmu_write_ste()'s locals. */
export interface WriteSteFrame extends FrameHead<'arm_smmu_write_ste'> {
  /**
   * start: take ats_broken_lock (with the fence); locked: plan the writes
   * (arm_smmu_write_entry()); next_write: write the next step and sync it;
   * synced: that sync returned; prefetched: the PREFETCH_CFG was issued.
   */
  pc: 'start' | 'locked' | 'next_write' | 'synced' | 'prefetched';
  bdf: string;
  sid: number;
  target: SteFields;
  why: string;
  /** The entry after each write of the plan (16 words each). */
  writes: number[][];
  kind: EntryPlan['kind'];
  i: number;
}

export function writeSteFrame(bdf: string, sid: number, target: SteFields, why: string): WriteSteFrame {
  return {
    fn: 'arm_smmu_write_ste',
    id: FN.arm_smmu_write_ste,
    pc: 'start',
    startNs: -1,
    bdf,
    sid,
    target,
    why,
    writes: [],
    kind: 'none',
    i: 0,
  };
}

/**
 * arm_smmu_write_ste(): arm_smmu_write_entry() takes the live STE to the
 * target in the kernel's steps (hitless where the used bits allow it,
 * otherwise V = 0 first), each step synced with CFGI_STE + CMD_SYNC; an
 * unchanged STE is not written or synced at all. Then a PREFETCH_CFG. With the fence (seed 003
 * #23) this runs under ats_broken_lock and masks EATS while ats_broken is set.
 */
function arm_smmu_write_ste(w: KWorld, t: Task, f: WriteSteFrame): Yield {
  const fence = w.kcfg.flags.atsBrokenFence;
  const m = masterOf(w, f.bdf)!;
  for (;;) {
    switch (f.pc) {
      case 'start':
        f.pc = 'locked';
        if (fence) return lock(atsBrokenLock(f.bdf));
        continue;
      case 'locked': {
        const target = { ...f.target };
        if (fence && m.atsBroken && target.eats !== STRTAB_STE_1_EATS_ABT) {
          target.eats = STRTAB_STE_1_EATS_ABT;
          note(w, 'ste.mask_eats', { sid: f.sid, bdf: f.bdf });
        }
        const loc = steL2(w, f.sid, true)!;
        const want = new Uint32Array(STE_WORDS);
        writeSte(want, 0, target);
        const plan = arm_smmu_write_entry(loc.arr.subarray(loc.base, loc.base + STE_WORDS), want);
        if (plan.warn) warnOn(w, t.pid, SMMU_C, 'arm_smmu_write_entry', 'entry_set(writer, entry, target, 0, NUM_ENTRY_QWORDS)');
        f.writes = plan.writes.map((x) => Array.from(x));
        f.kind = plan.kind;
        f.i = 0;
        f.pc = 'next_write';
        continue;
      }
      case 'next_write': {
        if (f.i >= f.writes.length) {
          if (fence) unlock(w, t, atsBrokenLock(f.bdf));
          // "It's likely that we'll want to use the new STE soon" (no ARM_SMMU_OPT_SKIP_PREFETCH):
          // CMD_PREFETCH_CONFIG, issued without a sync, whether or not the STE changed.
          f.pc = 'prefetched';
          return call(issueCmdlist(cmdWords(makeCmdPrefetchCfg(f.sid)), false));
        }
        const loc = steL2(w, f.sid, true)!;
        loc.arr.set(f.writes[f.i]!, loc.base);
        w.k.invDirty = true;
        const now = readSte(loc.arr, loc.base);
        emit(w, 'ste.write', {
          sid: f.sid,
          bdf: f.bdf,
          config: now.config,
          eats: now.eats,
          v: now.v,
          step: `${f.kind} ${f.i + 1}/${f.writes.length}`,
          why: f.why,
        });
        f.pc = 'synced';
        return call(issueCmdlist(cmdWords(makeCmdCfgiSte(f.sid, true)), true));
      }
      case 'synced':
        f.i++;
        f.pc = 'next_write';
        continue;
      case 'prefetched':
        return ret(0);
    }
  }
}

/** arm_smmu_attach_dev()'s locals. */
export interface AttachDevFrame extends FrameHead<'arm_smmu_attach_dev'> {
  /**
   * start: prepare; next_ste: install the next SID's STE; ste_written; commit: ATS on (after
   * flushing the ATC), flush or off; ats_flushed: the flush before pci_enable_ats() returned;
   * committed: drop the old domain's invs.
   */
  pc: 'start' | 'next_ste' | 'ste_written' | 'commit' | 'ats_flushed' | 'committed';
  bdf: string;
  dom: string | null;
  i: number;
  newAts: boolean;
  oldAts: boolean;
  oldDom: string | null;
}

export function attachDevFrame(bdf: string, dom: string | null): AttachDevFrame {
  return {
    fn: 'arm_smmu_attach_dev',
    id: FN.arm_smmu_attach_dev,
    pc: 'start',
    startNs: -1,
    bdf,
    dom,
    i: 0,
    newAts: false,
    oldAts: false,
    oldDom: null,
  };
}

/**
 * arm_smmu_attach_dev() for a paging, identity or the blocking domain:
 * prepare (invs of the new domain), install the STE for every SID, commit
 * (enable ATS, flush the ATC across a domain change, or disable ATS), and
 * drop the master from the old domain's invs.
 */
function arm_smmu_attach_dev(w: KWorld, _t: Task, f: AttachDevFrame): Yield {
  const m = masterOf(w, f.bdf)!;
  const ep = w.pci.endpoints[f.bdf]!;
  for (;;) {
    switch (f.pc) {
      case 'start': {
        const d = domainOf(w, f.dom);
        f.oldDom = m.domain;
        f.oldAts = m.atsEnabled;
        f.newAts = !!d && d.type === 'paging' && atsSupported(w, m);
        emit(w, 'attach.begin', { bdf: f.bdf, domain: f.dom ?? 'none', from: m.domain ?? 'none', ats: f.newAts });
        if (d && d.type === 'paging') {
          invsAdd(d, m, f.newAts, 0);
          const cdt = w.mem.cdTables[m.cdTab]!;
          writeCd(cdt, 0, { v: 1, asid: d.asid, ttb0: d.ttb });
        }
        f.i = 0;
        f.pc = 'next_ste';
        continue;
      }
      case 'next_ste':
        if (f.i >= m.sids.length) {
          f.pc = 'commit';
          continue;
        }
        f.pc = 'ste_written';
        return call(writeSteFrame(f.bdf, m.sids[f.i]!, buildSte(w, m, f.dom, f.newAts), `attach ${f.dom ?? 'none'}`));
      case 'ste_written':
        f.i++;
        f.pc = 'next_ste';
        continue;
      case 'commit':
        f.pc = 'committed';
        if (f.newAts && !f.oldAts) {
          // arm_smmu_enable_ats(): "ATC invalidation of PASID 0 causes the entire ATC to be
          // flushed" — entries left from before ATS was last disabled — then pci_enable_ats().
          f.pc = 'ats_flushed';
          return call(atcInvMasterFrame(f.bdf, 0));
        }
        if (f.newAts && f.oldAts && f.oldDom !== f.dom) {
          // ATS stays on across a domain change: flush the ATC.
          return call(atcInvMasterFrame(f.bdf, 0));
        }
        if (!f.newAts && f.oldAts) {
          // arm_smmu_disable_ats(): disable at the endpoint, then invalidate its ATC.
          setAtsEnable(ep, false);
          m.atsEnabled = false;
          note(w, 'ats.disable', { bdf: f.bdf });
          return call(atcInvMasterFrame(f.bdf, 0));
        }
        continue;
      case 'ats_flushed':
        setAtsEnable(ep, true);
        m.atsEnabled = true;
        note(w, 'ats.enable', { bdf: f.bdf });
        f.pc = 'committed';
        continue;
      case 'committed': {
        const old = domainOf(w, f.oldDom);
        if (old && f.oldDom !== f.dom) invsRemove(old, m, 0);
        m.domain = f.dom;
        emit(w, 'attach.end', { bdf: f.bdf, domain: f.dom ?? 'none' });
        return ret(0);
      }
    }
  }
}

/** arm_smmu_atc_inv_master()'s locals. */
export interface AtcInvMasterFrame extends FrameHead<'arm_smmu_atc_inv_master'> {
  /** start; next_sid: queue the next SID's ATC_INV; added; submit; submitted. */
  pc: 'start' | 'next_sid' | 'added' | 'submit' | 'submitted';
  bdf: string;
  ssid: number;
  b: Batch | null;
  i: number;
}

export function atcInvMasterFrame(bdf: string, ssid: number): AtcInvMasterFrame {
  return { fn: 'arm_smmu_atc_inv_master', id: FN.arm_smmu_atc_inv_master, pc: 'start', startNs: -1, bdf, ssid, b: null, i: 0 };
}

/** arm_smmu_atc_inv_master(): ATC_INV (all) for every SID of the master (seed 003 #18, #22). */
function arm_smmu_atc_inv_master(w: KWorld, t: Task, f: AtcInvMasterFrame): Yield {
  const m = masterOf(w, f.bdf)!;
  for (;;) {
    switch (f.pc) {
      case 'start':
        // Do not issue ATC_INV that will definitely time out.
        if (w.kcfg.flags.atsBrokenFence && m.atsBroken) {
          note(w, 'atc_inv.skip', { bdf: f.bdf, why: 'ats_broken' });
          return ret(0);
        }
        f.b = newBatch(
          w,
          m.sids.map((sid) => ({ type: 'ATS' as const, id: sid, ssid: f.ssid, master: m.bdf, users: 1 })),
        );
        f.i = 0;
        f.pc = 'next_sid';
        continue;
      case 'next_sid':
        if (f.i >= m.sids.length) {
          f.pc = 'submit';
          continue;
        }
        f.pc = 'added';
        // The kernel checks ats_broken once, at the start: later SIDs of a master quarantined by a
        // mid-loop flush still get their ATC_INV.
        return call(batchAdd(f.b!, makeCmdAtcInv(m.sids[f.i]!, f.ssid, 0, 0), f.startNs));
      case 'added':
        f.i++;
        f.pc = 'next_sid';
        continue;
      case 'submit':
        f.pc = 'submitted';
        return call(batchSubmit(f.b!));
      case 'submitted':
        freeBatch(w, f.b!);
        return ret(t.rv);
    }
  }
}

/** __arm_smmu_domain_inv_range()'s locals. */
export interface DomainInvRangeFrame extends FrameHead<'__arm_smmu_domain_inv_range'> {
  /**
   * start: take the domain's invs; build: fill the batch; flushed: a full
   * batch was issued; ended: the TLB invalidations were submitted before the
   * first ATC_INV; submit; submitted.
   */
  pc: 'start' | 'build' | 'flushed' | 'ended' | 'submit' | 'submitted';
  dom: string;
  iova: number;
  size: number;
  invs: Inv[];
  i: number;
  b: Batch | null;
  /** The range words every ATC_INV of this call shares. */
  atcW2: number;
  atcW3: number;
  /** The entry whose ats_broken check was made before a flush (-1: none), and when. */
  checkedAt: number;
  checkedNs: number;
}

export function domainInvRangeFrame(dom: string, iova: number, size: number): DomainInvRangeFrame {
  const f = (reuseFrame(FN.__arm_smmu_domain_inv_range) as DomainInvRangeFrame | undefined) ?? {
    fn: '__arm_smmu_domain_inv_range',
    id: FN.__arm_smmu_domain_inv_range,
    pc: 'start',
    startNs: -1,
    dom,
    iova,
    size,
    invs: NO_INVS,
    i: 0,
    b: null,
    atcW2: 0,
    atcW3: 0,
    checkedAt: -1,
    checkedNs: 0,
  };
  f.pc = 'start';
  f.startNs = -1;
  f.dom = dom;
  f.iova = iova;
  f.size = size;
  f.invs = NO_INVS;
  f.i = 0;
  f.b = null;
  f.atcW2 = 0;
  f.atcW3 = 0;
  f.checkedAt = -1;
  f.checkedNs = 0;
  return f;
}

const NO_INVS: Inv[] = [];

/**
 * arm_smmu_atc_inv_to_cmd(): the first word of an ATC_INV for SubstreamID
 * `ssid` (SSV set for a non-zero one), as makeCmdAtcInv() + encodeCmd()
 * would give; the second is the StreamID, the last two the range.
 */
function atcInvWord0(ssid: number): number {
  return (CMDQ_OP_ATC_INV | (ssid !== 0 ? 1 << 11 : 0) | ((ssid & 0xfffff) << 12)) >>> 0;
}

/**
 * The ATC_INVs an invalidation array gives, ready to copy into a batch:
 * for entry i, words i*4 .. i*4+3 hold its ATC_INV with a zero range (the
 * range words are filled in per call), and runEnd[i] is the index after the
 * run of consecutive ATS entries starting at i (i itself when entry i is
 * not an ATS one). An array is never changed once a domain holds it (attach
 * and detach make a new one, and an entry's type, StreamID and SubstreamID
 * never change), so this is worked out once per array and kept beside it,
 * outside the simulation state: a restored snapshot's arrays are new
 * objects and get their own.
 */
interface AtsWords {
  cmds: Uint32Array;
  runEnd: Int32Array;
  /** The last run copied, as a view of cmds (the next unmap of the domain usually copies the same one). */
  view: Uint32Array;
  viewFrom: number;
  viewTo: number;
}
const ATS_WORDS = new WeakMap<Inv[], AtsWords>();

function atsWordsOf(invs: Inv[]): AtsWords {
  let a = ATS_WORDS.get(invs);
  if (a !== undefined) return a;
  const n = invs.length;
  const cmds = new Uint32Array(n * 4);
  a = { cmds, runEnd: new Int32Array(n), view: cmds, viewFrom: 0, viewTo: n };
  let end = n;
  for (let i = n - 1; i >= 0; i--) {
    const e = invs[i]!;
    if (e.type !== 'ATS') {
      end = i;
      a.runEnd[i] = i;
      continue;
    }
    a.runEnd[i] = end;
    a.cmds[i * 4] = atcInvWord0(e.ssid);
    a.cmds[i * 4 + 1] = e.id;
  }
  ATS_WORDS.set(invs, a);
  return a;
}

/**
 * __arm_smmu_domain_inv_range(): one TLBI for the ASID, submitted with its
 * CMD_SYNC, then one ATC_INV per ATS StreamID of the domain's invalidation
 * array, batched, and a CMD_SYNC (arm_smmu_invs_end_batch() ends the batch
 * between the two). ATC_INVs to an ats_broken master are skipped (seed 003
 * #18).
 */
function __arm_smmu_domain_inv_range(w: KWorld, t: Task, f: DomainInvRangeFrame): Yield {
  for (;;) {
    switch (f.pc) {
      case 'start': {
        const d = w.k.domains.get(f.dom)!;
        // The array as it is now: attaches replace the domain's array rather than change it, so
        // this one stays as it was (only an entry's `users` count, not read here, is shared).
        f.invs = d.invs;
        f.b = newBatch(w, f.invs);
        // Every ATC_INV of this range has the same dw1 (address and span): encode it once.
        const [span, pageStart] = f.size === 0 ? [ATC_INV_SIZE_ALL, 0] : atcInvSpan(f.iova, f.size);
        f.atcW2 = ((pageStart % 0x10_0000) * 4096 + span) >>> 0;
        f.atcW3 = Math.floor(pageStart / 0x10_0000) >>> 0;
        f.i = 0;
        f.pc = 'build';
        continue;
      }
      case 'build': {
        const invs = f.invs;
        const b = f.b!;
        const fence = w.kcfg.flags.atsBrokenFence === true && w.k.brokenMasters > 0;
        const size = f.size;
        const iova = f.iova;
        const pages = Math.max(1, Math.ceil(size / 4096));
        const atcW2 = f.atcW2;
        const atcW3 = f.atcW3;
        const max = w.kcfg.batchEntries;
        const c = b.cmds;
        const added = b.addedNs;
        const now = w.s.nowNs;
        const checkedAt = f.checkedAt;
        let i = f.i;
        // The batch's count is kept in a local and written back before anything reads it.
        let num = b.num;
        let atcInvs = b.atcInvs;
        const ats = fence ? null : atsWordsOf(invs);
        while (i < invs.length) {
          // arm_smmu_invs_end_batch(): "ATS must be after a sync of the S1/S2 invalidations".
          // The array is sorted by type, so the TLB invalidations come first: they are submitted
          // (with their CMD_SYNC) before the first ATC_INV is added.
          if (num > 0 && i > 0 && invs[i]!.type === 'ATS' && invs[i - 1]!.type !== 'ATS') {
            b.num = num;
            b.atcInvs = atcInvs;
            b.hasAts = atcInvs > 0;
            f.i = i;
            f.pc = 'ended';
            return call(batchSubmit(b));
          }
          if (ats !== null && i !== checkedAt) {
            // The common run (a storm's): ATS entries with no fence to check,
            // as many as the batch has room for, copied in as a block
            // (atsWordsOf()) with the range filled in after.
            const end = Math.min(ats.runEnd[i]!, i + (max - num));
            if (end > i) {
              const at = num * 4;
              if (ats.viewFrom !== i || ats.viewTo !== end) {
                ats.view = ats.cmds.subarray(i * 4, end * 4);
                ats.viewFrom = i;
                ats.viewTo = end;
              }
              c.set(ats.view, at);
              const k = end - i;
              for (let j = at + 2; j < at + k * 4; j += 4) {
                c[j] = atcW2;
                c[j + 1] = atcW3;
              }
              added.fill(now, num, num + k);
              num += k;
              atcInvs += k;
              i = end;
              continue;
            }
          }
          const inv = invs[i]!;
          // As in the kernel, ats_broken is checked before arm_smmu_cmdq_batch_add_cmd(),
          // whose flush of a full batch may itself quarantine this master; the command is
          // then still added (checkedAt remembers the check across the flush).
          if (fence && inv.type === 'ATS' && checkedAt !== i) {
            const m = inv.master ? masterOf(w, inv.master) : undefined;
            if (m && m.atsBroken) {
              // Do not issue ATC_INV that will definitely time out (seed 003 #18).
              note(w, 'atc_inv.skip', { bdf: m.bdf, sid: inv.id, why: 'ats_broken' });
              i++;
              continue;
            }
          }
          if (num >= max) {
            b.num = num;
            b.atcInvs = atcInvs;
            b.hasAts = atcInvs > 0;
            f.i = i;
            f.checkedAt = i;
            f.checkedNs = now;
            f.pc = 'flushed';
            return call(batchFlushFrame(w, b));
          }
          const at = num * 4;
          if (inv.type === 'S1_ASID') appendTlbiNhVa(c, at, inv.id, iova, pages);
          else {
            c[at] = atcInvWord0(inv.ssid);
            c[at + 1] = inv.id;
            c[at + 2] = atcW2;
            c[at + 3] = atcW3;
            atcInvs++;
          }
          added[num] = checkedAt === i ? f.checkedNs : now;
          num++;
          i++;
        }
        b.num = num;
        b.atcInvs = atcInvs;
        b.hasAts = atcInvs > 0;
        f.checkedAt = -1;
        f.i = i;
        f.pc = 'submit';
        continue;
      }
      case 'flushed':
      case 'ended':
        // arm_smmu_cmdq_batch_submit() and the flush leave the batch empty.
        batchReset(f.b!);
        f.pc = 'build';
        continue;
      case 'submit':
        if (f.b!.num === 0) {
          freeBatch(w, f.b!);
          return ret(0);
        }
        f.pc = 'submitted';
        return call(batchSubmit(f.b!));
      case 'submitted':
        freeBatch(w, f.b!);
        return ret(t.rv);
    }
  }
}

/** arm_smmu_set_dev_pasid()'s locals. */
export interface SetDevPasidFrame extends FrameHead<'arm_smmu_set_dev_pasid'> {
  /** start: install the CD; next_sid: CFGI_CD for the next SID; synced: it returned. */
  pc: 'start' | 'next_sid' | 'synced';
  bdf: string;
  pasid: number;
  dom: string;
  i: number;
}

export function setDevPasidFrame(bdf: string, pasid: number, dom: string): SetDevPasidFrame {
  return { fn: 'arm_smmu_set_dev_pasid', id: FN.arm_smmu_set_dev_pasid, pc: 'start', startNs: -1, bdf, pasid, dom, i: 0 };
}

/** arm_smmu_set_dev_pasid(): install CD[pasid] and sync it; ATS entries for the PASID. */
function arm_smmu_set_dev_pasid(w: KWorld, _t: Task, f: SetDevPasidFrame): Yield {
  const m = masterOf(w, f.bdf)!;
  for (;;) {
    switch (f.pc) {
      case 'start': {
        const d = w.k.domains.get(f.dom)!;
        writeCd(w.mem.cdTables[m.cdTab]!, f.pasid * CD_WORDS, { v: 1, asid: d.asid, ttb0: d.ttb });
        invsAdd(d, m, m.atsEnabled, f.pasid);
        m.pasids[f.pasid] = f.dom;
        emit(w, 'pasid.set', { bdf: f.bdf, pasid: f.pasid, domain: f.dom });
        f.pc = 'next_sid';
        continue;
      }
      case 'next_sid':
        if (f.i >= m.sids.length) return ret(0);
        f.pc = 'synced';
        return call(
          issueCmdlist(cmdWords({ op: CMDQ_OP_CFGI_CD, sid: m.sids[f.i]!, ssid: f.pasid, ssv: true, leaf: true }), true),
        );
      case 'synced':
        f.i++;
        f.pc = 'next_sid';
        continue;
    }
  }
}

/** arm_smmu_remove_dev_pasid()'s locals. */
export interface RemoveDevPasidFrame extends FrameHead<'arm_smmu_remove_dev_pasid'> {
  /** start: clear the CD; next_sid: CFGI_CD for the next SID; synced; flush: the PASID's ATC entries; flushed. */
  pc: 'start' | 'next_sid' | 'synced' | 'flush' | 'flushed';
  bdf: string;
  pasid: number;
  i: number;
}

export function removeDevPasidFrame(bdf: string, pasid: number): RemoveDevPasidFrame {
  return { fn: 'arm_smmu_remove_dev_pasid', id: FN.arm_smmu_remove_dev_pasid, pc: 'start', startNs: -1, bdf, pasid, i: 0 };
}

/** The blocking domain's set_dev_pasid: clear CD[pasid], sync it, flush the PASID's ATC entries. */
function arm_smmu_remove_dev_pasid(w: KWorld, _t: Task, f: RemoveDevPasidFrame): Yield {
  const m = masterOf(w, f.bdf)!;
  for (;;) {
    switch (f.pc) {
      case 'start': {
        const cdt = w.mem.cdTables[m.cdTab]!;
        writeCd(cdt, f.pasid * CD_WORDS, { v: 0, asid: 0, ttb0: 0 });
        const dom = m.pasids[f.pasid];
        const d = dom ? w.k.domains.get(dom) : undefined;
        if (d) invsRemove(d, m, f.pasid);
        delete m.pasids[f.pasid];
        emit(w, 'pasid.remove', { bdf: f.bdf, pasid: f.pasid });
        f.pc = 'next_sid';
        continue;
      }
      case 'next_sid':
        if (f.i >= m.sids.length) {
          f.pc = 'flush';
          continue;
        }
        f.pc = 'synced';
        return call(
          issueCmdlist(cmdWords({ op: CMDQ_OP_CFGI_CD, sid: m.sids[f.i]!, ssid: f.pasid, ssv: true, leaf: true }), true),
        );
      case 'synced':
        f.i++;
        f.pc = 'next_sid';
        continue;
      case 'flush':
        if (!m.atsEnabled) return ret(0);
        f.pc = 'flushed';
        return call(atcInvMasterFrame(f.bdf, f.pasid));
      case 'flushed':
        return ret(0);
    }
  }
}

/** arm_smmu_reset_device_done()'s locals. */
export interface ResetDeviceDoneFrame extends FrameHead<'arm_smmu_reset_device_done'> {
  /** start: take ats_broken_lock (with the fence); locked: clear ats_broken. */
  pc: 'start' | 'locked';
  bdf: string;
}

export function resetDeviceDoneFrame(bdf: string): ResetDeviceDoneFrame {
  return { fn: 'arm_smmu_reset_device_done', id: FN.arm_smmu_reset_device_done, pc: 'start', startNs: -1, bdf };
}

/** arm_smmu_reset_device_done(): lift the driver quarantine after a good reset (seed 003 #18, #23). */
function arm_smmu_reset_device_done(w: KWorld, t: Task, f: ResetDeviceDoneFrame): Yield {
  const fence = w.kcfg.flags.atsBrokenFence;
  const m = masterOf(w, f.bdf)!;
  if (f.pc === 'start') {
    f.pc = 'locked';
    if (fence) return lock(atsBrokenLock(f.bdf));
  }
  const was = m.atsBroken;
  if (was) w.k.brokenMasters--;
  m.atsBroken = false;
  w.k.invDirty = true;
  if (was) {
    w.k.stats.unquarantines++;
    emit(w, 'unquarantine.driver', { bdf: f.bdf });
  }
  if (fence) unlock(w, t, atsBrokenLock(f.bdf));
  return ret(0);
}

/** arm_smmu_release_device()'s locals. */
export interface ReleaseDeviceFrame extends FrameHead<'arm_smmu_release_device'> {
  /** start: attach the blocking domain; blocked: forget the master. */
  pc: 'start' | 'blocked';
  bdf: string;
}

export function releaseDeviceFrame(bdf: string): ReleaseDeviceFrame {
  return { fn: 'arm_smmu_release_device', id: FN.arm_smmu_release_device, pc: 'start', startNs: -1, bdf };
}

/** arm_smmu_release_device(): put the STEs back to abort, forget the master. */
function arm_smmu_release_device(w: KWorld, _t: Task, f: ReleaseDeviceFrame): Yield {
  const m = masterOf(w, f.bdf)!;
  switch (f.pc) {
    case 'start':
      f.pc = 'blocked';
      return call(attachDevFrame(f.bdf, BLOCKED_DOMAIN));
    case 'blocked': {
      for (const [p, dom] of Object.entries(m.pasids)) {
        const d = w.k.domains.get(dom);
        if (d) invsRemove(d, m, Number(p));
      }
      m.pasids = {};
      for (const d of w.k.domains.values()) d.invs = d.invs.filter((x) => x.master !== m.bdf);
      for (const sid of m.sids) delete w.k.streams[sid];
      // The master is gone; its ats_broken stays as it was at removal (reports show it), but it no longer counts.
      if (m.atsBroken) w.k.brokenMasters--;
      m.present = false;
      w.k.invDirty = true;
      emit(w, 'master.release', { bdf: f.bdf });
      return ret(0);
    }
  }
}

/** Bring-up of a master at probe time: CD table, STEs for the group's domain, ATS on when supported. */
export function probeMaster(w: KWorld, m: KMaster, dom: string | null): void {
  const ssidCount = m.pasidCap ? 1 << SSIDSIZE : 1;
  w.mem.cdTables[m.cdTab] = new Uint32Array(ssidCount * CD_WORDS);
  for (const sid of m.sids) w.k.streams[sid] = m.bdf;
  const d = domainOf(w, dom);
  const ats = !!d && d.type === 'paging' && atsSupported(w, m);
  if (d && d.type === 'paging') {
    invsAdd(d, m, ats, 0);
    writeCd(w.mem.cdTables[m.cdTab]!, 0, { v: 1, asid: d.asid, ttb0: d.ttb });
  }
  for (const sid of m.sids) {
    const loc = steL2(w, sid, true)!;
    writeSte(loc.arr, loc.base, buildSte(w, m, dom ?? BLOCKED_DOMAIN, ats));
  }
  w.k.invDirty = true;
  m.domain = dom ?? BLOCKED_DOMAIN;
  m.atsEnabled = ats;
  setAtsEnable(w.pci.endpoints[m.bdf]!, ats);
}

/** STE.EATS of each SID of a device, as the stream table holds it (0 when absent). */
export function steEatsOf(w: KWorld, sids: number[]): number[] {
  return sids.map((sid) => {
    const loc = steL2(w, sid, false);
    return loc ? readSte(loc.arr, loc.base).eats : 0;
  });
}

/** The rest of the driver's functions and their frames (kernel/fns.ts runs them). */
export const DRIVER_FNS = {
  arm_smmu_write_ste,
  arm_smmu_attach_dev,
  arm_smmu_atc_inv_master,
  __arm_smmu_domain_inv_range,
  arm_smmu_set_dev_pasid,
  arm_smmu_remove_dev_pasid,
  arm_smmu_reset_device_done,
  arm_smmu_release_device,
};

export type DriverFrame =
  | WriteSteFrame
  | AttachDevFrame
  | AtcInvMasterFrame
  | DomainInvRangeFrame
  | SetDevPasidFrame
  | RemoveDevPasidFrame
  | ResetDeviceDoneFrame
  | ReleaseDeviceFrame;
