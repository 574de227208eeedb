/**
 * arm_smmu_write_entry() for STEs (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c):
 * how the driver moves a live STE from its current value to a target one
 * without the SMMU ever seeing a mix that is not one of the two.
 *
 * An entry is 8 qwords, here 16 uint32 words (qword i = words 2i, 2i+1).
 * arm_smmu_get_ste_used() says which bits the SMMU reads for an entry's
 * configuration; arm_smmu_get_ste_update_safe() which bits may change in
 * place whatever the order. From those, arm_smmu_entry_qword_diff() finds the
 * qwords whose used bits must change:
 *  - one: a hitless update — write every bit the current entry ignores,
 *    then the "critical" qword, then clear what the target ignores;
 *  - more: a breaking update — V = 0, then qwords 1..7, then qword 0;
 *  - none: write what differs (only unused bits; the kernel WARNs if any).
 * Each write that changes something is followed by a sync (CFGI_STE and
 * CMD_SYNC, arm_smmu_ste_writer_sync_entry()), so an update costs 0 to 3.
 */
import { getField, setField, type Field } from '../hw/bits.ts';
import {
  STE_WORDS,
  STRTAB_STE_0_CFG,
  STRTAB_STE_0_CFG_BYPASS,
  STRTAB_STE_0_S1CDMAX,
  STRTAB_STE_0_S1CTXPTR,
  STRTAB_STE_0_S1FMT,
  STRTAB_STE_0_V,
  STRTAB_STE_1_EATS,
  STRTAB_STE_1_EATS_ABT,
  STRTAB_STE_1_EATS_TRANS,
  STRTAB_STE_1_S1DSS,
  STRTAB_STE_1_S1DSS_BYPASS,
  STRTAB_STE_1_SHCFG,
  STRTAB_STE_1_STRW,
  STRTAB_STE_2_S2VMID,
} from '../hw/ste.ts';

/** NUM_ENTRY_QWORDS. */
export const NUM_ENTRY_QWORDS = STE_WORDS / 2;

function setMask(m: Uint32Array, f: Field): void {
  setField(m, 0, f, 2 ** f.width - 1);
}

/** arm_smmu_get_ste_used(): the bits of `ent` the SMMU reads, for the fields the model has. */
export function arm_smmu_get_ste_used(ent: Uint32Array): Uint32Array {
  const used = new Uint32Array(STE_WORDS);
  setMask(used, STRTAB_STE_0_V);
  if (getField(ent, 0, STRTAB_STE_0_V) === 0) return used;
  setMask(used, STRTAB_STE_0_CFG);
  const cfg = getField(ent, 0, STRTAB_STE_0_CFG);
  if (cfg & 1) {
    // S1 translates.
    for (const f of [STRTAB_STE_0_S1FMT, STRTAB_STE_0_S1CTXPTR, STRTAB_STE_0_S1CDMAX]) setMask(used, f);
    for (const f of [STRTAB_STE_1_S1DSS, STRTAB_STE_1_STRW, STRTAB_STE_1_EATS]) setMask(used, f);
    setMask(used, STRTAB_STE_2_S2VMID);
    if (getField(ent, 0, STRTAB_STE_1_S1DSS) === STRTAB_STE_1_S1DSS_BYPASS) setMask(used, STRTAB_STE_1_SHCFG);
  }
  if (cfg & 2) {
    // S2 translates (no S2 domain in the model; EATS and SHCFG are what it has of it).
    setMask(used, STRTAB_STE_1_EATS);
    setMask(used, STRTAB_STE_1_SHCFG);
    setMask(used, STRTAB_STE_2_S2VMID);
  }
  if (cfg === STRTAB_STE_0_CFG_BYPASS) setMask(used, STRTAB_STE_1_SHCFG);
  return used;
}

/**
 * arm_smmu_get_ste_update_safe(): EATS may move between ABT and TRANS in
 * place (the attach sequence has ATS disabled at the device meanwhile).
 */
export function arm_smmu_get_ste_update_safe(cur: Uint32Array, target: Uint32Array): Uint32Array {
  const safe = new Uint32Array(STE_WORDS);
  const a = getField(cur, 0, STRTAB_STE_1_EATS);
  const b = getField(target, 0, STRTAB_STE_1_EATS);
  const pair = (x: number, y: number): boolean => x === STRTAB_STE_1_EATS_ABT && y === STRTAB_STE_1_EATS_TRANS;
  if (pair(a, b) || pair(b, a)) setMask(safe, STRTAB_STE_1_EATS);
  return safe;
}

export interface EntryPlan {
  /** The entry after each write that changes something; each is followed by a sync. */
  writes: Uint32Array[];
  kind: 'hitless' | 'breaking' | 'none';
  /** The qwords whose used bits change (bit i: qword i). */
  usedQwordDiff: number;
  /** No used bit changed, but unused bits did: WARN_ON_ONCE(entry_set(...)). */
  warn: boolean;
}

/** arm_smmu_write_entry(): the writes (and so the syncs) that take `entry` to `target`. */
export function arm_smmu_write_entry(entry: Uint32Array, target: Uint32Array): EntryPlan {
  const cur = Uint32Array.from(entry);
  const curUsed = arm_smmu_get_ste_used(cur);
  const targetUsed = arm_smmu_get_ste_used(target);
  const safe = arm_smmu_get_ste_update_safe(cur, target);
  const unusedUpdate = new Uint32Array(STE_WORDS);
  let diff = 0;
  // arm_smmu_entry_qword_diff(), a word at a time (both words of a qword decide together).
  for (let w = 0; w < STE_WORDS; w++) {
    const s = safe[w]! & targetUsed[w]! & curUsed[w]!;
    const cu = curUsed[w]! & ~s;
    unusedUpdate[w] = ((cur[w]! & cu) | (target[w]! & ~cu)) >>> 0;
    if ((unusedUpdate[w]! & targetUsed[w]!) >>> 0 !== target[w]!) diff |= 1 << (w >> 1);
  }
  const writes: Uint32Array[] = [];
  // entry_set(): copy qwords [start, start+len) of `src`; a change means a sync.
  const entrySet = (src: Uint32Array, start: number, len: number): boolean => {
    let changed = false;
    for (let w = start * 2; w < (start + len) * 2; w++) {
      if (cur[w] !== src[w]) {
        cur[w] = src[w]!;
        changed = true;
      }
    }
    if (changed) writes.push(Uint32Array.from(cur));
    return changed;
  };
  const bits = popcount(diff);
  if (bits === 1) {
    const critical = Math.log2(diff & -diff);
    unusedUpdate[critical * 2] = cur[critical * 2]!;
    unusedUpdate[critical * 2 + 1] = cur[critical * 2 + 1]!;
    entrySet(unusedUpdate, 0, NUM_ENTRY_QWORDS);
    entrySet(target, critical, 1);
    entrySet(target, 0, NUM_ENTRY_QWORDS);
    return { writes, kind: 'hitless', usedQwordDiff: diff, warn: false };
  }
  if (bits > 1) {
    unusedUpdate[0] = 0;
    unusedUpdate[1] = 0;
    entrySet(unusedUpdate, 0, 1);
    entrySet(target, 1, NUM_ENTRY_QWORDS - 1);
    entrySet(target, 0, 1);
    return { writes, kind: 'breaking', usedQwordDiff: diff, warn: false };
  }
  const warn = entrySet(target, 0, NUM_ENTRY_QWORDS);
  return { writes, kind: 'none', usedQwordDiff: 0, warn };
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x; v !== 0; v &= v - 1) n++;
  return n;
}
