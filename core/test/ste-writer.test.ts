/**
 * arm_smmu_write_entry() for STEs (issue 12, point 5): the writes and syncs
 * the kernel makes to move a live STE, as upstream arm-smmu-v3.c computes
 * them and its KUnit test (arm-smmu-v3-test.c) counts them: abort <-> bypass
 * and abort <-> S1 are hitless in 2 syncs, bypass <-> S1 hitless in 3, a
 * change of two used qwords breaks the entry (V = 0) first, an unchanged
 * entry costs nothing.
 */
import { describe, expect, it } from 'vitest';
import {
  STE_WORDS,
  STRTAB_STE_0_CFG_ABORT,
  STRTAB_STE_0_CFG_BYPASS,
  STRTAB_STE_0_CFG_S1_TRANS,
  STRTAB_STE_1_EATS_TRANS,
  STRTAB_STE_1_S1DSS_SSID0,
  STRTAB_STE_1_SHCFG_INCOMING,
  STRTAB_STE_2_S2VMID,
  readSte,
  writeSte,
  type SteFields,
} from '../hw/ste.ts';
import { setField } from '../hw/bits.ts';
import { arm_smmu_write_entry } from '../kernel/ste-writer.ts';
import { run, scenario, NVME } from './support.ts';
import { tr } from './behaviour-support.ts';

const none: SteFields = { v: 1, config: 0, s1fmt: 0, s1ContextPtr: 0, s1cdmax: 0, s1dss: 0, eats: 0, strw: 0, shcfg: 0 };
const abort: SteFields = { ...none, config: STRTAB_STE_0_CFG_ABORT };
const bypass: SteFields = { ...none, config: STRTAB_STE_0_CFG_BYPASS, shcfg: STRTAB_STE_1_SHCFG_INCOMING };
const s1 = (eats: number, cdtab = 0x9000_1000): SteFields => ({
  ...none,
  config: STRTAB_STE_0_CFG_S1_TRANS,
  s1ContextPtr: cdtab,
  s1dss: STRTAB_STE_1_S1DSS_SSID0,
  eats,
});
const words = (f: SteFields): Uint32Array => {
  const a = new Uint32Array(STE_WORDS);
  writeSte(a, 0, f);
  return a;
};

describe('arm_smmu_write_entry(): hitless where the used bits allow it', () => {
  const cases: Array<[string, SteFields, SteFields, number]> = [
    ['abort -> bypass', abort, bypass, 2],
    ['bypass -> abort', bypass, abort, 2],
    ['abort -> S1 (cdtable) with EATS', abort, s1(STRTAB_STE_1_EATS_TRANS), 2],
    ['S1 with EATS -> abort (the blocking domain)', s1(STRTAB_STE_1_EATS_TRANS), abort, 2],
    ['bypass -> S1', bypass, s1(STRTAB_STE_1_EATS_TRANS), 3],
    ['S1 -> bypass', s1(STRTAB_STE_1_EATS_TRANS), bypass, 3],
  ];
  for (const [label, from, to, syncs] of cases) {
    it(`${label}: ${syncs} syncs, every intermediate entry is the old or the new configuration`, () => {
      const plan = arm_smmu_write_entry(words(from), words(to));
      expect(plan.kind).toBe('hitless');
      expect(plan.writes).toHaveLength(syncs);
      expect(readSte(plan.writes.at(-1)!, 0)).toEqual(to);
      for (const e of plan.writes) {
        const f = readSte(e, 0);
        expect(f.v).toBe(1);
        expect([from.config, to.config]).toContain(f.config);
      }
    });
  }

  it('EATS alone (ABT <-> TRANS, arm_smmu_get_ste_update_safe()) is one write', () => {
    expect(arm_smmu_write_entry(words(s1(1)), words(s1(0))).writes).toHaveLength(1);
    expect(arm_smmu_write_entry(words(s1(0)), words(s1(1))).writes).toHaveLength(1);
  });

  it('an unchanged entry is neither written nor synced', () => {
    const plan = arm_smmu_write_entry(words(s1(1)), words(s1(1)));
    expect([plan.kind, plan.writes.length, plan.warn]).toEqual(['none', 0, false]);
  });
});

describe('arm_smmu_write_entry(): a breaking update when two used qwords change', () => {
  it('V = 0 first, then qwords 1..7, then qword 0: three syncs, never a mixed valid entry', () => {
    const cur = words(s1(1));
    setField(cur, 0, STRTAB_STE_2_S2VMID, 5);
    const target = words(s1(1, 0x9000_2000));
    const plan = arm_smmu_write_entry(cur, target);
    expect(plan.kind).toBe('breaking');
    expect(plan.usedQwordDiff).toBe(0b101);
    expect(plan.writes.map((e) => readSte(e, 0).v)).toEqual([0, 0, 1]);
    expect(Array.from(plan.writes.at(-1)!)).toEqual(Array.from(target));
  });
});

describe('the driver writes STEs in those steps', () => {
  it('a re-attach from a paging domain to an identity one syncs the STE three times', () => {
    const r = run(
      scenario({
        domains: [
          { id: 'dma0', type: 'paging' },
          { id: 'ident', type: 'identity' },
        ],
        steps: [{ at: 10, op: 'attach', group: 0, domain: 'ident' }],
      }),
      'v4',
    );
    const writes = tr(r, 'ste.write', (d) => d.sid === 256);
    expect(writes.map((t) => t.d.step)).toEqual(['hitless 1/3', 'hitless 2/3', 'hitless 3/3']);
    // Each write synced, then arm_smmu_write_ste()'s PREFETCH_CFG (seed 003 keeps it after the
    // write), then arm_smmu_attach_commit()'s ATC flush as ATS goes off.
    expect(tr(r, 'cmdq.consume').map((t) => t.d.op)).toEqual([
      ...['CFGI_STE', 'CMD_SYNC', 'CFGI_STE', 'CMD_SYNC', 'CFGI_STE', 'CMD_SYNC'],
      'PREFETCH_CFG',
      'ATC_INV',
      'CMD_SYNC',
    ]);
    expect(r.result.devices.find((d) => d.bdf === NVME)!.steEats).toEqual([0]);
  });
});
