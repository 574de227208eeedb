/**
 * Hardware model behaviour (DESIGN.md "Hardware model"): the SMMUv3 register
 * protocol, the command consumer and its errors, ATS checks on DMA, the event
 * queue, and the PCIe endpoints' fault modes. Each expectation is the
 * hardware behaviour the kernel code in the seeds relies on (the GERROR
 * handler, __arm_smmu_cmdq_skip_err(), the issuer's CMD_SYNC poll), as
 * summarised in reference/smmu-facts.md.
 */
import { describe, expect, it } from 'vitest';
import { Simulation } from '../engine.ts';
import { CMDQ_ENT_WORDS, CMDQ_OP_CMD_SYNC, CMDQ_SYNC_0_CS_SEV, decodeCmd } from '../hw/cmd.ts';
import {
  ARM_SMMU_CMDQ_CONS,
  ARM_SMMU_CMDQ_PROD,
  ARM_SMMU_CR0,
  ARM_SMMU_CR0ACK,
  ARM_SMMU_EVTQ_CONS,
  ARM_SMMU_EVTQ_PROD,
  ARM_SMMU_GERROR,
  ARM_SMMU_GERRORN,
  CR0_ATSCHK,
  CR0_CMDQEN,
  CR0_EVTQEN,
  CR0_SMMUEN,
  GERROR_CMDQ_ERR,
  GERROR_EVTQ_ABT_ERR,
  GERROR_SFM_ERR,
} from '../hw/regs.ts';
import { raiseGerror, steL2 } from '../hw/smmu.ts';
import { setSteEats } from '../hw/ste.ts';
import type { Scenario, Step } from '../scenario/types.ts';
import type { TraceKind, TraceRecordOf } from '../trace.ts';
import {
  NVME,
  SMMU,
  atcTimeoutSteps,
  dev,
  first,
  messages,
  reg,
  run,
  scenario,
  sharedDomainScenario,
  simAt,
  simAtNs,
  tr,
} from './behaviour-support.ts';
import { faultSteps } from './support.ts';

const SID = 256;
const consIdx = (v: number): number => v & 0xfffff;
const consErr = (v: number): number => (v >>> 24) & 0x7f;

/** Time (ns) of the first trace record of `kind` in a run of `s`. */
function firstNs(s: Scenario, policy: 'baseline' | 'v4' | 'driver-only', kind: TraceKind): number {
  const t = first(run(s, policy), kind);
  if (!t) throw new Error(`no ${kind} in the run`);
  return t.t;
}

/**
 * A healthy device whose ATC holds a translation for 0x10000; at 100 µs the
 * test clears STE.EATS in the stream table behind the SMMU's back. `more`
 * steps run after that.
 */
function withEatsCleared(more: Step[], over: Partial<Scenario> = {}, invalidate = true): Simulation {
  const s = scenario({
    ...over,
    steps: [
      { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
      { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
      ...(invalidate ? [{ at: 200, op: 'cmd', cmd: { op: 'CFGI_STE', sid: SID, leaf: true } } as Step] : []),
      ...more,
    ],
  });
  const sim = simAt(s, 'v4', 100);
  const loc = steL2(sim.world, SID, false)!;
  setSteEats(loc.arr, loc.base, 0);
  sim.run();
  return sim;
}

function dmaAt(sim: Simulation, atUs: number) {
  return sim.out.trace.find((t): t is TraceRecordOf<'dma'> => t.kind === 'dma' && t.t === atUs * 1000);
}

// smmu-facts §1; the registers seed 003 #13-#15 read and write (GERROR, GERRORN, CMDQ_CONS).
describe('SMMU register file', () => {
  it('holds the registers in a Uint32Array at their architectural offsets', () => {
    expect([
      ARM_SMMU_CR0,
      ARM_SMMU_CR0ACK,
      ARM_SMMU_GERROR,
      ARM_SMMU_GERRORN,
      ARM_SMMU_CMDQ_PROD,
      ARM_SMMU_CMDQ_CONS,
      ARM_SMMU_EVTQ_PROD,
      ARM_SMMU_EVTQ_CONS,
    ]).toEqual([0x20, 0x24, 0x60, 0x64, 0x98, 0x9c, 0xa8, 0xac]);
    const sim = simAt(scenario({ steps: [{ at: 5, op: 'cmd', cmd: { op: 'CFGI_ALL' } }] }), 'v4', 1000);
    const regs = sim.world.smmu.regs;
    expect(regs).toBeInstanceOf(Uint32Array);
    // One CFGI_ALL and its CMD_SYNC were published and consumed: PROD and CONS index 2.
    expect(regs[0x98 / 4]).toBe(2);
    expect(regs[0x9c / 4]).toBe(2);
  });

  it('boots the way arm_smmu_device_reset() leaves it: SMMUEN, CMDQEN, EVTQEN and ATSCHK set, CR0ACK = CR0', () => {
    const sim = simAt(scenario(), 'v4', 0);
    const cr0 = reg(sim, ARM_SMMU_CR0);
    for (const bit of [CR0_SMMUEN, CR0_CMDQEN, CR0_EVTQEN, CR0_ATSCHK]) expect(cr0 & bit).toBe(bit);
    expect(reg(sim, ARM_SMMU_CR0ACK)).toBe(cr0);
    expect(reg(sim, ARM_SMMU_GERROR) ^ reg(sim, ARM_SMMU_GERRORN)).toBe(0);
  });
});

// smmu-facts §1 and §4; arm_smmu_gerror_handler() in seed 003 #13/#14 computes active = gerror ^ gerrorn.
describe('GERROR / GERRORN toggle protocol', () => {
  it('keeps CMDQ_ERR active while GERROR and GERRORN differ; the ack GERRORN := GERROR ends it', () => {
    const s = scenario({ smmu: { gerrorIrqLatencyUs: 500 }, steps: faultSteps() });
    const sim = simAtNs(s, 'baseline', firstNs(s, 'baseline', 'cmdq.error') + 400_000);
    expect((reg(sim, ARM_SMMU_GERROR) ^ reg(sim, ARM_SMMU_GERRORN)) & GERROR_CMDQ_ERR).toBe(GERROR_CMDQ_ERR);
    sim.run();
    expect(reg(sim, ARM_SMMU_GERRORN)).toBe(reg(sim, ARM_SMMU_GERROR));
  });

  it('toggles GERROR.CMDQ_ERR for every new error instead of setting it', () => {
    const r = run(
      scenario({
        steps: [
          ...faultSteps(),
          ...[3000, 6000, 9000].flatMap((at): Step[] => [
            { at, op: 'map', domain: 'dma0', iova: '0x40000', pages: 1 },
            { at: at + 100, op: 'unmap', domain: 'dma0', iova: '0x40000', pages: 1 },
          ]),
        ],
      }),
      'baseline',
    );
    expect(r.result.stats.cmdqErrors).toBe(4);
    expect(tr(r, 'gerror.toggle').map((t) => t.d.gerror)).toEqual(['0x00000001', '0x00000000', '0x00000001', '0x00000000']);
    expect(tr(r, 'gerrorn.write').map((t) => t.d.value)).toEqual(['0x00000001', '0x00000000', '0x00000001', '0x00000000']);
    expect(r.result.smmu.gerror).toBe('0x00000000');
    expect(r.result.smmu.gerrorn).toBe('0x00000000');
  });

  it('leaves both registers at 1 after a single acknowledged error', () => {
    const r = run(scenario({ steps: [{ at: 10, op: 'cmd', cmd: { raw: ['0x000000000000007f', '0x0000000000000000'] } }] }), 'v4');
    expect(r.result.smmu.gerror).toBe('0x00000001');
    expect(r.result.smmu.gerrorn).toBe('0x00000001');
  });

  it('never toggles a bit that is already active', () => {
    const sim = simAt(scenario({ smmu: { gerrorIrqLatencyUs: 100 } }), 'v4', 0);
    raiseGerror(sim.world, GERROR_EVTQ_ABT_ERR);
    raiseGerror(sim.world, GERROR_EVTQ_ABT_ERR);
    expect(reg(sim, ARM_SMMU_GERROR) & GERROR_EVTQ_ABT_ERR).toBe(GERROR_EVTQ_ABT_ERR);
    expect(tr(sim, 'gerror.toggle')).toHaveLength(1);
    sim.run();
    expect(reg(sim, ARM_SMMU_GERRORN)).toBe(reg(sim, ARM_SMMU_GERROR));
  });
});

// smmu-facts §1 (CMDQ_CONS.ERR[30:24], cerror_str[]) and §4 (__arm_smmu_cmdq_skip_err() reads it; seed 003 #12).
describe('CMDQ_CONS.ERR and the CERROR codes', () => {
  it('reports CERROR_ATC_INV_SYNC (3) with CONS.RD on the CMD_SYNC after an ATC invalidation timeout', () => {
    const s = scenario({ smmu: { gerrorIrqLatencyUs: 500 }, steps: faultSteps() });
    const sim = simAtNs(s, 'baseline', firstNs(s, 'baseline', 'cmdq.error'));
    const cons = reg(sim, ARM_SMMU_CMDQ_CONS);
    // TLBI at 0 and its CMD_SYNC at 1 (the TLB invalidations are synced before any ATC_INV,
    // arm_smmu_invs_end_batch()), ATC_INV at 2, CMD_SYNC at 3.
    expect(consErr(cons)).toBe(3);
    expect(consIdx(cons)).toBe(3);
  });

  it('reports CERROR_ILL (1) with CONS.RD on an undefined opcode', () => {
    const s = scenario({
      smmu: { gerrorIrqLatencyUs: 500 },
      steps: [{ at: 10, op: 'cmd', cmd: { raw: ['0x000000000000007f', '0x0'] } }],
    });
    const sim = simAtNs(s, 'v4', firstNs(s, 'v4', 'cmdq.error'));
    const cons = reg(sim, ARM_SMMU_CMDQ_CONS);
    expect(consErr(cons)).toBe(1);
    expect(consIdx(cons)).toBe(0);
  });

  it('reports CERROR_ABT (2) when the command fetch aborts (smmu-fault cmdq-abort)', () => {
    const s = scenario({
      smmu: { gerrorIrqLatencyUs: 500 },
      steps: [
        { at: 5, op: 'smmu-fault', kind: 'cmdq-abort' },
        { at: 10, op: 'cmd', cmd: { op: 'CFGI_ALL' } },
      ],
    });
    const sim = simAtNs(s, 'v4', firstNs(s, 'v4', 'cmdq.error'));
    const cons = reg(sim, ARM_SMMU_CMDQ_CONS);
    expect(consErr(cons)).toBe(2);
    expect(consIdx(cons)).toBe(0);
  });
});

// smmu-facts §4 "HW behaviour on ATC timeout"; the kernel comment in __arm_smmu_cmdq_skip_err() (seed 003 #12 context).
describe('CMD_SYNC and ATC invalidations', () => {
  it('completes a CMD_SYNC only after every earlier ATC_INV has completed', () => {
    const A = '0000:01:00.0',
      B = '0000:02:00.0';
    const r = run(
      sharedDomainScenario(
        [dev(A, [256]), dev(B, [512])],
        [
          { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
          { at: 10, op: 'dma', device: A, iova: '0x10000', write: true },
          { at: 11, op: 'dma', device: B, iova: '0x10000', write: true },
          { at: 20, op: 'fault', device: A, kind: 'atc-slow', latencyUs: 200 },
          { at: 21, op: 'fault', device: B, kind: 'atc-slow', latencyUs: 600 },
          { at: 30, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 2 },
        ],
      ),
      'baseline',
    );
    const sends = tr(r, 'atc.inv.send');
    expect(sends.map((t) => t.d.sid)).toEqual([256, 512]);
    const slowSend = sends[1]!;
    // The CMD_SYNC behind the ATC_INVs (the one before them syncs the TLBI).
    const sync = tr(r, 'cmdq.consume', (d) => d.op === 'CMD_SYNC').find((t) => t.id > slowSend.id)!;
    expect(sync.t - slowSend.t).toBeGreaterThanOrEqual(600_000);
    expect(r.result.stats.cmdqErrors).toBe(0);
    expect(r.result.calls.find((c) => c.fn === 'iommu_unmap')!.ret).toBe('0x2000');
  });

  it('consumes the ATC_INV, then stops at the next CMD_SYNC once the invalidation timeout has passed', () => {
    const r = run(scenario({ smmu: { gerrorIrqLatencyUs: 50 }, steps: faultSteps() }), 'baseline');
    const send = first(r, 'atc.inv.send')!;
    const err = first(r, 'cmdq.error')!;
    // The CMD_SYNC after the ATC_INV (the first one syncs the TLBI before it).
    const atcSlot = first(r, 'cmdq.write', (d) => d.op === 'ATC_INV')!.d.slot as number;
    const syncSlot = first(r, 'cmdq.write', (d) => d.op === 'CMD_SYNC' && (d.slot as number) > atcSlot)!.d.slot;
    expect(err.d).toMatchObject({ cerror: 'CERROR_ATC_INV_SYNC', slot: syncSlot });
    expect(first(r, 'cmdq.consume', (d) => d.op === 'ATC_INV')!.id).toBeLessThan(err.id);
    expect(err.t - send.t).toBeGreaterThanOrEqual(1000_000);
    expect(err.t - send.t).toBeLessThan(1010_000);
    // No completion signal: nothing consumed after the error until software acknowledges it.
    const ack = first(r, 'gerrorn.write')!;
    expect(ack.t - err.t).toBeGreaterThanOrEqual(50_000);
    expect(tr(r, 'cmdq.consume').filter((t) => t.id > err.id && t.id < ack.id)).toHaveLength(0);
  });

  it('re-fetches the same CMD_SYNC after the GERRORN ack, without a new PROD write, and it then completes', () => {
    const r = run(scenario({ smmu: { gerrorIrqLatencyUs: 50 }, steps: faultSteps() }), 'baseline');
    const err = first(r, 'cmdq.error')!;
    const ack = first(r, 'gerrorn.write')!;
    const again = tr(r, 'cmdq.consume').find((t) => t.id > ack.id)!;
    expect(again.d).toMatchObject({ slot: err.d.slot, op: 'CMD_SYNC' });
    expect(tr(r, 'cmdq.prod').filter((t) => t.id > err.id && t.id < again.id)).toHaveLength(0);
    // The failed CMD_SYNC is consumed again after the ack and completes; the ATC_INV timed out once.
    expect(r.result.stats.atcInvTimeouts).toBe(1);
    expect(r.result.calls.find((c) => c.fn === 'iommu_unmap')!.ret).toBe('0x2000');
  });

  it('fails the CMD_SYNC of an endpoint that answers later than the ATC invalidation timeout', () => {
    const r = run(
      scenario({
        steps: [
          { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
          { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
          { at: 20, op: 'fault', device: NVME, kind: 'atc-slow', latencyUs: 2000 },
          { at: 30, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 2 },
        ],
      }),
      'baseline',
    );
    expect(tr(r, 'cmdq.error').map((t) => t.d.cerror)).toEqual(['CERROR_ATC_INV_SYNC']);
  });
});

// smmu-facts §4 (skip_err: only CERROR_ILL is rewritten; ABT is re-fetched) and §7 (QEMU: CONS stays on the bad command).
describe('illegal commands and fetch aborts', () => {
  const ill = scenario({
    steps: [
      { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
      { at: 10, op: 'cmd', cmd: { raw: ['0x000000000000007f', '0x0000000000000000'] } },
      { at: 100, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 2 },
    ],
  });

  it('stops at an undefined opcode with CERROR_ILL and runs the CMD_SYNC the kernel writes over it', () => {
    const r = run(ill, 'v4');
    const err = first(r, 'cmdq.error')!;
    expect(err.d).toMatchObject({ cerror: 'CERROR_ILL', slot: 0 });
    const ack = first(r, 'gerrorn.write')!;
    const after = tr(r, 'cmdq.consume')
      .filter((t) => t.id > ack.id)
      .map((t) => [t.d.slot, t.d.op]);
    expect(after.slice(0, 2)).toEqual([
      [0, 'CMD_SYNC'],
      [1, 'CMD_SYNC'],
    ]);
    const slot0 = decodeCmd(r.sim.world.smmu.cmdq, 0);
    expect(slot0.op).toBe(CMDQ_OP_CMD_SYNC);
    expect(slot0.cs).toBe(CMDQ_SYNC_0_CS_SEV);
    expect(r.result.calls.find((c) => c.fn === 'arm_smmu_cmdq_issue_cmdlist')!.ret).toBe('0');
    // The queue moves on: the later unmap's commands are consumed without error.
    expect(r.result.stats.cmdqErrors).toBe(1);
    expect(r.result.calls.find((c) => c.fn === 'iommu_unmap')!.ret).toBe('0x2000');
  });

  it('re-fetches the same command after CERROR_ABT is acknowledged (nothing is rewritten or skipped)', () => {
    const r = run(
      scenario({
        steps: [
          { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
          { at: 5, op: 'smmu-fault', kind: 'cmdq-abort' },
          { at: 30, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 2 },
        ],
      }),
      'v4',
    );
    const err = first(r, 'cmdq.error')!;
    expect(err.d).toMatchObject({ cerror: 'CERROR_ABT', slot: 0 });
    expect(tr(r, 'cmdq.rewrite')).toHaveLength(0);
    const ack = first(r, 'gerrorn.write')!;
    const after = tr(r, 'cmdq.consume')
      .filter((t) => t.id > ack.id)
      .map((t) => [t.d.slot, t.d.op]);
    expect(after).toEqual([
      [0, 'TLBI_NH_VA'],
      [1, 'CMD_SYNC'],
      [2, 'ATC_INV'],
      [3, 'CMD_SYNC'],
    ]);
    expect(r.result.calls.find((c) => c.fn === 'iommu_unmap')!.ret).toBe('0x2000');
  });
});

// smmu-facts §1 (GERROR bit 8) and §4 (arm_smmu_device_disable()); seed 003 #13.
describe('Service Failure Mode', () => {
  const sfm = scenario({
    steps: [
      { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
      { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
      { at: 20, op: 'smmu-fault', kind: 'sfm' },
      { at: 30, op: 'dma', device: NVME, iova: '0x10000', write: true },
      { at: 40, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 2 },
    ],
  });

  it('raises GERROR.SFM_ERR, stops consuming commands and aborts all DMA', () => {
    for (const p of ['baseline', 'v4'] as const) {
      const r = run(sfm, p);
      expect(first(r, 'gerror.toggle')!.d.bit).toBe(GERROR_SFM_ERR);
      expect(r.result.smmu.sfm).toBe(true);
      expect(r.result.stats.commandsConsumed).toBe(0);
      expect(first(r, 'dma', (d) => d.outcome !== 'ok')!.t).toBe(30_000);
      expect(r.result.stats.blockedDma).toBe(1);
      // The kernel disabled the SMMU: CR0 = 0.
      expect(reg(r.sim, ARM_SMMU_CR0)).toBe(0);
    }
  });
});

// smmu-facts §3 (EATS = 0b00 with ATSCHK) and DESIGN "Hardware model"; seed 003 #24 relies on it ("reject any further ATS transaction").
describe('CR0.ATSCHK and STE.EATS on Translated traffic', () => {
  it('accepts Translated requests while STE.EATS is set', () => {
    const r = run(
      scenario({
        steps: [
          { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
          { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
          { at: 20, op: 'dma', device: NVME, iova: '0x10000', write: true },
        ],
      }),
      'v4',
    );
    expect(tr(r, 'dma').map((t) => [t.d.outcome, t.d.via])).toEqual([
      ['ok', 'translated'],
      ['ok', 'translated'],
    ]);
  });

  it('with ATSCHK = 1 aborts Translated traffic once STE.EATS = 0 and records F_TRANSL_FORBIDDEN', () => {
    const sim = withEatsCleared([{ at: 300, op: 'dma', device: NVME, iova: '0x10000', write: true }]);
    expect(dmaAt(sim, 300)!.d).toMatchObject({ outcome: 'blocked', via: 'translated' });
    const evt = tr(sim, 'evtq.record');
    expect(evt.map((t) => [t.d.id, t.d.sid])).toEqual([[0x07, SID]]);
  });

  it('with ATSCHK = 0 lets Translated traffic bypass the SMMU unchecked', () => {
    const sim = withEatsCleared([{ at: 300, op: 'dma', device: NVME, iova: '0x10000', write: true }], {
      smmu: { atsChk: false },
    });
    expect(reg(sim, ARM_SMMU_CR0) & CR0_ATSCHK).toBe(0);
    expect(dmaAt(sim, 300)!.d).toMatchObject({ outcome: 'ok', via: 'bypass' });
    expect(tr(sim, 'evtq.record')).toHaveLength(0);
  });

  it('answers an ATS Translation Request with UR and records F_BAD_ATS_TREQ while STE.EATS = 0', () => {
    const sim = withEatsCleared([{ at: 300, op: 'dma', device: NVME, iova: '0x11000', write: true }]);
    expect(tr(sim, 'evtq.record').map((t) => [t.d.id, t.d.sid])).toEqual([[0x05, SID]]);
    expect(dmaAt(sim, 300)!.d.via).not.toBe('translated');
  });
});

// smmu-facts §3 (STE, IHI 0070 §5.2) and DESIGN "CFGI_STE makes the SMMU re-read an STE"; seed 003 #24 issues CFGI_STE after clearing EATS.
describe('STE cache and CFGI_STE', () => {
  it('keeps using its cached STE until a CFGI_STE for that StreamID is consumed', () => {
    const sim = withEatsCleared([
      { at: 150, op: 'dma', device: NVME, iova: '0x10000', write: true },
      { at: 300, op: 'dma', device: NVME, iova: '0x10000', write: true },
    ]);
    // Before the CFGI_STE at 200 µs the SMMU still sees EATS = 1.
    expect(dmaAt(sim, 150)!.d).toMatchObject({ outcome: 'ok', via: 'translated' });
    expect(dmaAt(sim, 300)!.d).toMatchObject({ outcome: 'blocked', via: 'translated' });
  });

  it('does not see the change at all without a CFGI_STE', () => {
    const sim = withEatsCleared([{ at: 300, op: 'dma', device: NVME, iova: '0x10000', write: true }], {}, false);
    expect(dmaAt(sim, 300)!.d).toMatchObject({ outcome: 'ok', via: 'translated' });
  });
});

// smmu-facts §7 (event records) and the upstream arm_smmu_evtq_thread()/event_str[] seed 003 #24 sits next to.
describe('event queue', () => {
  it('writes event records to the EVTQ ring and the event thread drains them with their raw dwords', () => {
    const sim = withEatsCleared([
      { at: 300, op: 'dma', device: NVME, iova: '0x10000', write: true },
      { at: 400, op: 'dma', device: NVME, iova: '0x10000', write: true },
    ]);
    expect(tr(sim, 'evtq.record')).toHaveLength(2);
    expect(reg(sim, ARM_SMMU_EVTQ_PROD)).toBe(2);
    expect(reg(sim, ARM_SMMU_EVTQ_CONS)).toBe(reg(sim, ARM_SMMU_EVTQ_PROD));
    const log = sim.result().log.map((l) => l.replace(/^\[[^\]]*\] /, ''));
    const i = log.indexOf(`${SMMU}event 0x07 received:`);
    expect(i).toBeGreaterThanOrEqual(0);
    // dw0: StreamID in [63:32], event id in [7:0].
    expect(log[i + 1]).toBe(`${SMMU}\t0x0000010000000007`);
    expect(log.slice(i + 2, i + 5).every((l) => /^arm-smmu-v3 arm-smmu-v3\.0\.auto: \t0x[0-9a-f]{16}$/.test(l))).toBe(true);
  });

  it('prints F_TRANSL_FORBIDDEN and F_BAD_ATS_TREQ as UNKNOWN (no event_str[] entry) with the client device name', () => {
    const sim = withEatsCleared([
      { at: 300, op: 'dma', device: NVME, iova: '0x10000', write: true },
      { at: 400, op: 'dma', device: NVME, iova: '0x11000', write: true },
    ]);
    const log = sim.result().log.map((l) => l.replace(/^\[[^\]]*\] /, ''));
    const lines = log.filter((l) => l.includes('event: '));
    expect(lines).toEqual([
      `${SMMU}event: UNKNOWN client: ${NVME} sid: 0x100 ssid: 0`,
      `${SMMU}event: UNKNOWN client: ${NVME} sid: 0x100 ssid: 0`,
    ]);
    expect(log.filter((l) => l.endsWith(' received:'))).toEqual([`${SMMU}event 0x07 received:`, `${SMMU}event 0x05 received:`]);
  });
});

// DESIGN "Hardware model" (endpoint fault modes); smmu-facts §8 ATS summary.
describe('PCIe endpoint fault modes', () => {
  it('unresponsive: ignores the invalidation, never completes it, and keeps its stale ATC entry', () => {
    const r = run(
      scenario({ steps: [...faultSteps(), { at: 5000, op: 'dma', device: NVME, iova: '0x10000', write: true }] }),
      'baseline',
    );
    expect(tr(r, 'atc.inv.complete')).toHaveLength(0);
    expect(r.result.stats.atcInvTimeouts).toBe(1);
    const d = first(r, 'dma', (x) => x.iova === 0x10000 && x.outcome !== 'ok')!;
    expect(['stale', 'corrupt']).toContain(d.d.outcome);
  });

  it('slow: purges and completes the invalidation after its latency', () => {
    const r = run(
      scenario({
        steps: [
          { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
          { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
          { at: 20, op: 'fault', device: NVME, kind: 'atc-slow', latencyUs: 300 },
          { at: 30, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 2 },
          { at: 1000, op: 'dma', device: NVME, iova: '0x10000', write: true },
        ],
      }),
      'baseline',
    );
    const send = first(r, 'atc.inv.send')!;
    const sync = tr(r, 'cmdq.consume', (d) => d.op === 'CMD_SYNC').find((t) => t.id > send.id)!;
    expect(sync.t - send.t).toBeGreaterThanOrEqual(300_000);
    expect(r.result.stats.cmdqErrors).toBe(0);
    expect(r.result.stats.staleAtcWrites).toBe(0);
    expect(first(r, 'dma', (d) => d.iova === 0x10000 && d.outcome !== 'ok')!.d.outcome).not.toMatch(/stale|corrupt/);
  });

  it('slow past the timeout: the CMD_SYNC fails, but the late answer still purges the ATC', () => {
    const r = run(
      scenario({
        steps: [
          { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
          { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
          { at: 20, op: 'fault', device: NVME, kind: 'atc-slow', latencyUs: 2000 },
          { at: 30, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 2 },
          { at: 5000, op: 'dma', device: NVME, iova: '0x10000', write: true },
        ],
      }),
      'baseline',
    );
    expect(r.result.stats.atcInvTimeouts).toBe(1);
    expect(r.result.stats.staleAtcWrites).toBe(0);
  });

  it('recover: answers invalidations again, so the next unmap completes without a CMDQ error', () => {
    const r = run(
      scenario({
        steps: [
          ...faultSteps(),
          { at: 2000, op: 'fault', device: NVME, kind: 'atc-recover' },
          { at: 2100, op: 'map', domain: 'dma0', iova: '0x20000', pages: 1 },
          { at: 2110, op: 'dma', device: NVME, iova: '0x20000', write: true },
          { at: 2200, op: 'unmap', domain: 'dma0', iova: '0x20000', pages: 1 },
        ],
      }),
      'baseline',
    );
    expect(r.result.stats.cmdqErrors).toBe(1);
    const last = tr(r, 'cmdq.consume', (d) => d.op === 'CMD_SYNC').pop()!;
    expect(last.t).toBeGreaterThan(2200_000);
    expect(tr(r, 'cmdq.error').every((t) => t.t < 2000_000)).toBe(true);
  });
});

// Seed 003 cover letter: stale ATC entries "for memory pages that the OS has already reclaimed and reassigned".
describe('memory corruption through a stale ATC entry', () => {
  const stale = (write: boolean, times: number): Scenario =>
    scenario({
      steps: [
        ...faultSteps(),
        ...Array.from({ length: times }, (_, i): Step => ({
          at: 5000 + i * 10,
          op: 'dma',
          device: NVME,
          iova: '0x10000',
          write,
        })),
      ],
    });

  it('counts a write through a stale entry into a freed and reused page as corruption', () => {
    const r = run(stale(true, 1), 'baseline');
    const d = tr(r, 'dma').pop()!;
    expect(d.d.outcome).toBe('corrupt');
    expect(r.result.stats.staleAtcWrites).toBe(1);
    expect(r.result.stats.corruptedPages).toBe(1);
  });

  it('counts corrupted pages once each, however many stale writes land in them', () => {
    const r = run(stale(true, 3), 'baseline');
    expect(r.result.stats.staleAtcWrites).toBe(3);
    expect(r.result.stats.corruptedPages).toBe(1);
  });

  it('does not count a read through a stale entry', () => {
    const r = run(stale(false, 2), 'baseline');
    expect(r.result.stats.staleAtcWrites).toBe(0);
    expect(r.result.stats.corruptedPages).toBe(0);
  });

  it('does not corrupt anything when the endpoint answers the invalidation', () => {
    const r = run(
      scenario({
        steps: [
          { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
          { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
          { at: 30, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 2 },
          { at: 5000, op: 'dma', device: NVME, iova: '0x10000', write: true },
        ],
      }),
      'baseline',
    );
    expect(r.result.stats.staleAtcWrites).toBe(0);
    expect(r.result.stats.corruptedPages).toBe(0);
  });
});

// Seed 003 #19-#24: a shared unmap batch sends one ATC_INV per ATS StreamID before one CMD_SYNC.
describe('ATC_INV routing', () => {
  it('sends each ATC_INV to the endpoint that owns its StreamID', () => {
    const A = '0000:01:00.0',
      B = '0000:02:00.0';
    const r = run(sharedDomainScenario([dev(A, [256]), dev(B, [512])], atcTimeoutSteps([A, B], B)), 'baseline');
    const ignored = tr(r, 'atc.inv.ignored');
    expect(ignored.map((t) => t.d.bdf)).toEqual([B]);
    expect(messages(r).filter((m) => m.includes('ATC invalidate timeout'))).toHaveLength(1);
  });

  // DESIGN "CMDQ: a ring of 2^log2size 16-byte entries in a typed array"; smmu-facts §2.
  it('keeps the CMDQ as a ring of 2^log2size 16-byte entries', () => {
    const sim = simAt(scenario(), 'v4', 0);
    expect(CMDQ_ENT_WORDS).toBe(4);
    expect(sim.world.smmu.cmdq.length).toBe((1 << 8) * CMDQ_ENT_WORDS);
  });
});

// smmu-facts §7 ("An EVTQ write failure raises GERROR.EVENTQ_ABT_ERR") and Linux's arm_smmu_gerror_handler()
// ("EVTQ write aborted -- events may have been lost").
describe('an aborted event queue write (smmu-fault evtq-abort)', () => {
  it('loses the next event record, raises GERROR.EVTQ_ABT_ERR, and the queue keeps working', () => {
    const sim = withEatsCleared([
      { at: 250, op: 'smmu-fault', kind: 'evtq-abort' },
      { at: 300, op: 'dma', device: NVME, iova: '0x10000', write: true },
      { at: 400, op: 'dma', device: NVME, iova: '0x10000', write: true },
    ]);
    expect(tr(sim, 'evtq.abort').map((t) => t.t)).toEqual([300_000]);
    expect(tr(sim, 'evtq.record').map((t) => t.t)).toEqual([400_000]);
    expect(reg(sim, ARM_SMMU_EVTQ_PROD)).toBe(1);
    expect(tr(sim, 'gerror.toggle').map((t) => t.d.bit)).toEqual([GERROR_EVTQ_ABT_ERR]);
    const log = sim.result().log.map((l) => l.replace(/^\[[^\]]*\] /, ''));
    const i = log.indexOf(`${SMMU}unexpected global error reported (0x00000004), this could be serious`);
    expect(i).toBeGreaterThanOrEqual(0);
    expect(log[i + 1]).toBe(`${SMMU}EVTQ write aborted -- events may have been lost`);
    expect(reg(sim, ARM_SMMU_GERRORN)).toBe(reg(sim, ARM_SMMU_GERROR));
  });
});
