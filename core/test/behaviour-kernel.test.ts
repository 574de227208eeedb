/**
 * Kernel model behaviour (DESIGN.md "Kernel model", items 1-9): the
 * arm-smmu-v3 command queue issuer and GERROR handler, batches and the
 * per-StreamID retry, the driver and core quarantine, PCI resets with the
 * IOMMU prepare/done around them, attach gating and the kernel log. Each
 * describe/it names the seed patch whose code it checks; where the policies
 * differ, each is checked against the code it stands for (baseline: the
 * upstream code the series patches; v4: seed 003 on seed 000; driver-only:
 * the reviewer's proposal in the seed 003 thread).
 */
import { describe, expect, it } from 'vitest';
import { CMDQ_ENT_WORDS, CMDQ_OP_CMD_SYNC, CMDQ_SYNC_0_CS_SEV, decodeCmd, encodeCmd, makeCmdAtcInv } from '../hw/cmd.ts';
import {
  ARM_SMMU_GERROR,
  ARM_SMMU_GERRORN,
  GERROR_EVTQ_ABT_ERR,
  GERROR_MSI_CMDQ_ABT_ERR,
  GERROR_MSI_EVTQ_ABT_ERR,
  GERROR_MSI_GERROR_ABT_ERR,
  GERROR_MSI_PRIQ_ABT_ERR,
  GERROR_PRIQ_ABT_ERR,
} from '../hw/regs.ts';
import { raiseGerror } from '../hw/smmu.ts';
import type { PolicySpec, Scenario, Step } from '../scenario/types.ts';
import type { TraceRecordOf } from '../trace.ts';
import {
  DMESG_TS,
  NVME,
  SMMU,
  atcTimeoutSteps,
  blockedPath,
  dev,
  depthPath,
  first,
  lineUs,
  messages,
  msgIndex,
  msgsWith,
  oneGroupScenario,
  reg,
  retAt,
  rets,
  run,
  scenario,
  sharedDomainScenario,
  simAt,
  simAtNs,
  tr,
  type Run,
} from './behaviour-support.ts';
import { device, faultSteps, resolve } from './support.ts';
import { issueCmdlist } from '../kernel/cmdq.ts';
import { Simulation } from '../engine.ts';
import { validateScenario } from '../scenario/validate.ts';

const V4_NO_COCLEAR: PolicySpec = { preset: 'v4', coClear: false };
const V4_NO_FENCE: PolicySpec = { preset: 'v4', atsBrokenFence: false };
const EIO_LINE = 'CMD_SYNC for ATC_INV timeout at prod=';
const QUARANTINED = 'IOMMU has quarantined the device';
const UNBLOCKED = 'Device is unblocked after successful reset';
const RESET_FAILED = 'Reset failed. Keep it blocked to protect memory';
const RESET_SKIPPED = 'Reset may have been skipped. Keep it blocked conservatively';

/** An unresponsive device and one raw ATC_INV (all) issued with a CMD_SYNC: ATC_INV in slot 0, CMD_SYNC in slot 1. */
function rawAtcInv(over: Partial<Scenario> = {}, extra: Step[] = []): Scenario {
  return scenario({
    ...over,
    steps: [
      { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
      { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
      { at: 20, op: 'fault', device: NVME, kind: 'atc-unresponsive' },
      { at: 30, op: 'cmd', cmd: { op: 'ATC_INV', sid: 256, size: 52 } },
      ...extra,
    ],
  });
}

const LATE_ISR = { smmu: { gerrorIrqLatencyUs: 1_500_000 } };
const issueRet = (r: Run): string | undefined => retAt(r, 'arm_smmu_cmdq_issue_cmdlist', 30);

/** The three-device shared batch of seed 003 #24's commit message: 02:00.0 is the unresponsive one. */
const A = '0000:01:00.0',
  B = '0000:02:00.0',
  C = '0000:03:00.0';
const sharedBatch = (extra: Step[] = [], over: Partial<Scenario> = {}): Scenario =>
  sharedDomainScenario(
    [dev(A, [256]), dev(B, [512], { driver: 'mlx5_core' }), dev(C, [768], { driver: 'ixgbe' })],
    [...atcTimeoutSteps([A, B, C], B), ...extra],
    over,
  );

/* ========================================================================= */
/* 1. The command queue issuer                                                */
/* ========================================================================= */

// Seed 003 #12: the issuer tests and clears its CMD_SYNC's atc_sync_timeouts bit and returns -EIO.
describe('arm_smmu_cmdq_issue_cmdlist(): ATC timeout (-EIO) vs poll timeout (-ETIMEDOUT)', () => {
  it('v4 returns -EIO for a CMD_SYNC that failed with CERROR_ATC_INV_SYNC and logs "CMD_SYNC for ATC_INV timeout at prod=<sync index>"', () => {
    const r = run(rawAtcInv(), 'v4');
    expect(issueRet(r)).toBe('-EIO');
    expect(msgsWith(r, EIO_LINE)).toEqual([`${SMMU}${EIO_LINE}0x00000001`]);
    // The ISR marked the bit of the CMD_SYNC at CONS; the issuer consumed it.
    expect(tr(r, 'atc_sync_timeouts.set').map((t) => t.d.slot)).toEqual([1]);
    expect(first(r, 'atc_sync_timeouts.test')!.id).toBeGreaterThan(first(r, 'atc_sync_timeouts.set')!.id);
  });

  it('baseline (upstream) returns 0: the ISR only logs, the CMD_SYNC is repeated and completes', () => {
    const r = run(rawAtcInv(), 'baseline');
    expect(issueRet(r)).toBe('0');
    expect(msgsWith(r, EIO_LINE)).toEqual([]);
    expect(tr(r, 'atc_sync_timeouts.set')).toHaveLength(0);
    expect(msgsWith(r, 'CMDQ error (cons 0x03000001): ATC invalidate timeout')).toHaveLength(1);
  });

  it('a plain poll timeout gives -ETIMEDOUT and "CMD_SYNC timeout at ... [hwprod ..., hwcons ...]" (late ISR, no co-clear)', () => {
    for (const p of ['baseline', V4_NO_COCLEAR] as const) {
      const r = run(rawAtcInv(LATE_ISR), p);
      expect(issueRet(r)).toBe('-ETIMEDOUT');
      const lines = msgsWith(r, 'CMD_SYNC timeout at ');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^arm-smmu-v3 arm-smmu-v3\.0\.auto: CMD_SYNC timeout at 0x[0-9a-f]{8} \[hwprod 0x00000002, hwcons 0x03000001\]$/,
      );
      expect(msgsWith(r, EIO_LINE)).toEqual([]);
      // ARM_SMMU_POLL_TIMEOUT_US after the command was issued.
      expect(lineUs(r.log.find((l) => l.includes('CMD_SYNC timeout at '))!)).toBe(1_000_030);
    }
  });

  // Seed 003 #12 keeps the CMD_SYNC's index in sync_prod before arm_smmu_cmdq_poll_until_sync(smmu, cmdq, &llq),
  // because the poll reloads llq from the shared cmdq->q.llq; the timeout line then prints that llq.prod: the
  // producer index after this cmdlist (hwprod for a lone issuer), not the CMD_SYNC's index.
  it('the poll timeout line prints llq.prod as the poll left it, not sync_prod', () => {
    const r = run(rawAtcInv(LATE_ISR), 'baseline');
    expect(msgsWith(r, 'CMD_SYNC timeout at ')).toEqual([
      `${SMMU}CMD_SYNC timeout at 0x00000002 [hwprod 0x00000002, hwcons 0x03000001]`,
    ]);
  });

  // Seed 003 #15: on a poll error, cmdq_err_handler() drains a pending CMDQ_ERR before the bit is tested.
  it('v4 drains a pending CMDQ_ERR itself after a poll timeout, then finds its bit and returns -EIO', () => {
    const r = run(rawAtcInv(LATE_ISR), 'v4');
    expect(issueRet(r)).toBe('-EIO');
    const timeout = first(r, 'poll.timeout')!;
    const coclear = first(r, 'cmdq.coclear')!;
    const test = first(r, 'atc_sync_timeouts.test')!;
    expect(timeout.id).toBeLessThan(coclear.id);
    expect(coclear.id).toBeLessThan(test.id);
    // __arm_smmu_cmdq_skip_err() printed the CMDQ error from the issuer: no "unexpected global error" before it.
    const m = messages(r);
    const cmdqErr = msgIndex(r, 'CMDQ error (cons 0x03000001): ATC invalidate timeout');
    expect(cmdqErr).toBeGreaterThanOrEqual(0);
    expect(m.slice(0, cmdqErr).some((x) => x.includes('unexpected global error'))).toBe(false);
    expect(m[cmdqErr + 1]).toBe(`${SMMU}${EIO_LINE}0x00000001`);
    expect(msgsWith(r, 'CMD_SYNC timeout at ')).toEqual([]);
  });

  it('v4 co-clear toggles only CMDQ_ERR in GERRORN and leaves the other causes to the ISR', () => {
    const sim = simAt(rawAtcInv(LATE_ISR), 'v4', 500);
    raiseGerror(sim.world, GERROR_EVTQ_ABT_ERR);
    sim.run();
    const coclear = tr(sim, 'cmdq.coclear')[0]!;
    const write = sim.out.trace.find(
      (t): t is TraceRecordOf<'gerrorn.write'> => t.kind === 'gerrorn.write' && t.id > coclear.id,
    )!;
    expect(write.d.toggled).toBe('0x00000001');
    const log = sim.result().log.map((l) => l.replace(DMESG_TS, ''));
    expect(log).toContain(`${SMMU}unexpected global error reported (0x00000004), this could be serious`);
    expect(log).toContain(`${SMMU}EVTQ write aborted -- events may have been lost`);
    expect(reg(sim, ARM_SMMU_GERRORN)).toBe(reg(sim, ARM_SMMU_GERROR));
  });

  // Seed 003 #16: cmdq_err_handler() is also called when queue_has_space() fails.
  it('v4 co-clears a pending CMDQ_ERR as soon as it finds the queue full; upstream waits with "CMDQ timeout"', () => {
    const cfg = (at: number): Step => ({ at, op: 'cmd', cmd: { op: 'CFGI_ALL' } });
    const s = scenario({
      smmu: { cmdqLog2Size: 3, gerrorIrqLatencyUs: 3_000_000 },
      steps: [...faultSteps(), cfg(1100), cfg(1110), cfg(1120), cfg(1130)],
    });
    const v4 = run(s, 'v4');
    const full = first(v4, 'cmdq.full')!;
    const coclear = first(v4, 'cmdq.coclear')!;
    expect(full.t).toBe(1_130_000);
    expect(coclear.t).toBe(full.t);
    expect(coclear.id).toBeGreaterThan(full.id);
    expect(msgsWith(v4, 'CMDQ timeout')).toEqual([]);
    // The unmap still polling its CMD_SYNC sees it consumed with its bit set: -EIO long before its own 1 s poll timeout.
    const test = first(v4, 'atc_sync_timeouts.test')!;
    expect(test.id).toBeGreaterThan(coclear.id);
    expect(test.t).toBeLessThan(1_200_000);

    const base = run(s, 'baseline');
    expect(tr(base, 'cmdq.coclear')).toHaveLength(0);
    const waits = base.log.filter((l) => l.endsWith(`${SMMU}CMDQ timeout`));
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(lineUs(waits[0]!)).toBe(1_001_130);
  });

  // Seed 003 #12: clear_bit(Q_IDX(prod), atc_sync_timeouts) before the CMD_SYNC slot becomes visible.
  it('v4 clears a stale atc_sync_timeouts bit before a reused slot is published, so the next sync there returns 0', () => {
    const cfg = (at: number): Step => ({ at, op: 'cmd', cmd: { op: 'CFGI_ALL' } });
    const s = scenario({
      smmu: { cmdqLog2Size: 3, atcInvTimeoutUs: 2_000_000 },
      steps: [...faultSteps(), cfg(3_000_000), cfg(3_000_100), cfg(3_000_200), cfg(3_000_300)],
    });
    const r = run(s, 'v4');
    // The issuer gave up at 1 s (-ETIMEDOUT); the ATC timeout at 2 s set the bit of slot 3 (the
    // unmap wrote TLBI, CMD_SYNC, ATC_INV, CMD_SYNC in slots 0-3) with nobody to clear it. The
    // fourth CFGI_ALL's CMD_SYNC reuses slot 3 after the ring wraps.
    const set = tr(r, 'atc_sync_timeouts.set');
    expect(set.map((t) => t.d.slot)).toEqual([3]);
    const reuse = tr(r, 'cmdq.write', (d) => d.op === 'CMD_SYNC' && d.slot === 3).pop()!;
    expect(reuse.id).toBeGreaterThan(set[0]!.id);
    expect(rets(r, 'arm_smmu_cmdq_issue_cmdlist')).toEqual(['0', '0', '0', '0']);
    expect(msgsWith(r, EIO_LINE)).toEqual([]);
  });
});

/* ========================================================================= */
/* 2. The GERROR interrupt handler                                            */
/* ========================================================================= */

// Upstream arm_smmu_gerror_handler() as seed 003 #13/#14 show it; smmu-facts §4.
describe('arm_smmu_gerror_handler()', () => {
  it('logs the active bits (GERROR ^ GERRORN) and acknowledges with GERRORN := GERROR', () => {
    const r = run(scenario({ steps: faultSteps() }), 'baseline');
    expect(msgsWith(r, 'unexpected global error')).toEqual([
      `${SMMU}unexpected global error reported (0x00000001), this could be serious`,
    ]);
    const ack = first(r, 'gerrorn.write')!;
    expect(ack.d.value).toBe(ack.d.gerror);
  });

  it('reports the causes in the kernel order 7, 6, 5, 4, 3, 2 and handles CMDQ_ERR last', () => {
    const s = scenario({ smmu: { gerrorIrqLatencyUs: 500 }, steps: faultSteps() });
    const errNs = first(run(s, 'baseline'), 'cmdq.error')!.t;
    for (const p of ['baseline', 'v4'] as const) {
      const sim = simAtNs(s, p, errNs);
      for (const bit of [
        GERROR_EVTQ_ABT_ERR,
        GERROR_PRIQ_ABT_ERR,
        GERROR_MSI_CMDQ_ABT_ERR,
        GERROR_MSI_EVTQ_ABT_ERR,
        GERROR_MSI_PRIQ_ABT_ERR,
        GERROR_MSI_GERROR_ABT_ERR,
      ])
        raiseGerror(sim.world, bit);
      sim.run();
      const log = sim.result().log.map((l) => l.replace(DMESG_TS, ''));
      const i = log.indexOf(`${SMMU}unexpected global error reported (0x000000fd), this could be serious`);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(log.slice(i + 1, i + 8)).toEqual([
        `${SMMU}GERROR MSI write aborted`,
        `${SMMU}PRIQ MSI write aborted`,
        `${SMMU}EVTQ MSI write aborted`,
        `${SMMU}CMDQ MSI write aborted`,
        `${SMMU}PRIQ write aborted -- events may have been lost`,
        `${SMMU}EVTQ write aborted -- events may have been lost`,
        `${SMMU}CMDQ error (cons 0x03000003): ATC invalidate timeout`,
      ]);
    }
  });

  it('returns IRQ_NONE without a word when no bit of GERROR_ERR_MASK (0x1fd) is active', () => {
    const sim = simAt(scenario(), 'v4', 0);
    raiseGerror(sim.world, 1 << 1); // reserved
    sim.run();
    const res = sim.result();
    expect(res.stats.gerrorIrqs).toBe(0);
    expect(res.log.some((l) => l.includes('unexpected global error'))).toBe(false);
  });

  // Seed 003 #14: the ISR re-reads GERROR ^ GERRORN under cmdq_err_lock, so a cause the issuer already drained is not handled twice.
  it('v4: an ISR arriving after the issuer drained the CMDQ_ERR finds nothing to do', () => {
    const r = run(rawAtcInv(LATE_ISR), 'v4');
    expect(tr(r, 'irq.none')).toHaveLength(1);
    expect(msgsWith(r, 'unexpected global error')).toEqual([]);
    expect(msgsWith(r, 'CMDQ error')).toHaveLength(1);
  });

  // Seed 003 #13: on SFM, ack GERRORN, log, disable and return; upstream carries on with the other causes.
  describe('Service Failure Mode with a CMDQ_ERR pending', () => {
    const s = scenario({
      smmu: { gerrorIrqLatencyUs: 300 },
      steps: [...faultSteps(), { at: 1100, op: 'smmu-fault', kind: 'sfm' }],
    });

    it('v4 skips the other causes: only the SFM message after "unexpected global error"', () => {
      const r = run(s, 'v4');
      const i = msgIndex(r, 'unexpected global error reported (0x00000101)');
      expect(i).toBeGreaterThanOrEqual(0);
      expect(messages(r)[i + 1]).toBe(`${SMMU}device has entered Service Failure Mode!`);
      expect(msgsWith(r, 'CMDQ error')).toEqual([]);
      // GERRORN is written before arm_smmu_device_disable() clears CR0.
      const ack = first(r, 'gerrorn.write')!;
      const cr0 = first(r, 'reg.write', (d) => d.reg === 'CR0' && d.value === '0x00000000')!;
      expect(ack.id).toBeLessThan(cr0.id);
    });

    it('baseline (upstream) disables the SMMU, then still handles the CMDQ error, then acks', () => {
      const r = run(s, 'baseline');
      const i = msgIndex(r, 'unexpected global error reported (0x00000101)');
      expect(messages(r).slice(i + 1, i + 3)).toEqual([
        `${SMMU}device has entered Service Failure Mode!`,
        `${SMMU}CMDQ error (cons 0x03000003): ATC invalidate timeout`,
      ]);
      const ack = first(r, 'gerrorn.write')!;
      const cr0 = first(r, 'reg.write', (d) => d.reg === 'CR0' && d.value === '0x00000000')!;
      expect(cr0.id).toBeLessThan(ack.id);
    });
  });

  // __arm_smmu_cmdq_skip_err() (seed 003 #12 context): CERROR_ILL is the only code that is rewritten.
  it('CERROR_ILL: logs "skipping command in error state:" and both dwords as "\\t0x%016llx", then writes a CMD_SYNC over it', () => {
    for (const p of ['baseline', 'v4', 'driver-only'] as const) {
      const r = run(scenario({ steps: [{ at: 10, op: 'cmd', cmd: { raw: ['0x000001000000007f', '0x00000000deadbeef'] } }] }), p);
      const i = msgIndex(r, 'CMDQ error (cons 0x01000000): Illegal command');
      expect(i).toBeGreaterThanOrEqual(0);
      expect(messages(r).slice(i + 1, i + 4)).toEqual([
        `${SMMU}skipping command in error state:`,
        `${SMMU}\t0x000001000000007f`,
        `${SMMU}\t0x00000000deadbeef`,
      ]);
      const slot0 = decodeCmd(r.sim.world.smmu.cmdq, 0);
      expect([slot0.op, slot0.cs]).toEqual([CMDQ_OP_CMD_SYNC, CMDQ_SYNC_0_CS_SEV]);
    }
  });

  it('CERROR_ABT: logs "retrying command fetch" and rewrites nothing', () => {
    const r = run(
      scenario({
        steps: [
          { at: 5, op: 'smmu-fault', kind: 'cmdq-abort' },
          { at: 10, op: 'cmd', cmd: { op: 'CFGI_ALL' } },
        ],
      }),
      'v4',
    );
    const i = msgIndex(r, 'CMDQ error (cons 0x02000000): Abort on command fetch');
    expect(messages(r)[i + 1]).toBe(`${SMMU}retrying command fetch`);
    expect(tr(r, 'cmdq.rewrite')).toHaveLength(0);
    expect(msgsWith(r, 'skipping command')).toEqual([]);
  });

  it('CERROR_ATC_INV_SYNC: rewrites nothing; v4 marks the CMD_SYNC at CONS in atc_sync_timeouts, upstream does not', () => {
    const v4 = run(scenario({ steps: faultSteps() }), 'v4');
    const err = first(v4, 'cmdq.error')!;
    expect(first(v4, 'atc_sync_timeouts.set')!.d.slot).toBe(err.d.slot);
    expect(tr(v4, 'cmdq.rewrite')).toHaveLength(0);
    const base = run(scenario({ steps: faultSteps() }), 'baseline');
    expect(tr(base, 'atc_sync_timeouts.set')).toHaveLength(0);
    expect(tr(base, 'cmdq.rewrite')).toHaveLength(0);
  });
});

/* ========================================================================= */
/* 3. Batches and the per-StreamID retry                                      */
/* ========================================================================= */

// Seed 003 #19 and #24; CMDQ_BATCH_ENTRIES = BITS_PER_LONG = 64 (smmu-facts §2).
describe('command batches', () => {
  /** Nine ATS devices with eight StreamIDs each in dma0: one unmap needs 1 TLBI + 72 ATC_INVs. */
  const wide = (extra: Step[] = []): Scenario =>
    sharedDomainScenario(
      Array.from({ length: 9 }, (_, g) =>
        dev(
          `0000:1${g}:00.0`,
          Array.from({ length: 8 }, (__, i) => 0x1000 + g * 16 + i),
        ),
      ),
      [
        { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
        ...extra,
        { at: 30, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 2 },
      ],
    );

  // Seed 003 #24: arm_smmu_cmdq_batch_add_cmd_p() flushes a full batch with sync = cmds->has_ats (upstream: sync = false).
  it('flushes a full batch of CMDQ_BATCH_ENTRIES (64) early: with a CMD_SYNC in v4 because it carries ATC_INVs, without one upstream', () => {
    const syncSlots = (r: Run) => tr(r, 'cmdq.write', (d) => d.op === 'CMD_SYNC').map((t) => t.d.slot);
    // The TLBI is submitted with its CMD_SYNC first (slots 0, 1: arm_smmu_invs_end_batch()); then
    // 64 ATC_INVs fill a batch (slots 2-65), flushed with a CMD_SYNC in v4 (66), and the last 8
    // follow (67-74) with the final CMD_SYNC (75). Upstream flushes the 64 without a sync.
    expect(syncSlots(run(wide(), 'v4'))).toEqual([1, 66, 75]);
    expect(syncSlots(run(wide(), 'baseline'))).toEqual([1, 74]);
    expect(run(wide(), 'v4').result.stats.atcInvIssued).toBe(72);
  });

  // Seed 003 #19/#24: the flushed sub-batch carries cmds->invs, so a timeout in it is retried and blamed there.
  it('v4 retries a flushed sub-batch that timed out and quarantines only its unresponsive master', () => {
    const bad = '0000:10:00.0';
    const r = run(
      wide([
        { at: 10, op: 'dma', device: bad, iova: '0x10000', write: true },
        { at: 20, op: 'fault', device: bad, kind: 'atc-unresponsive' },
      ]),
      'v4',
    );
    expect(r.result.devices.filter((d) => d.atsBroken).map((d) => d.bdf)).toEqual([bad]);
    expect(tr(r, 'retry.sid').map((t) => t.d.bdf)).toContain(bad);
    expect(r.result.violations).toEqual([]);
  });
});

// Seed 003 #24: arm_smmu_cmdq_batch_retry().
describe('arm_smmu_cmdq_batch_retry(): one ATC_INV per StreamID after -EIO', () => {
  it("re-issues, one at a time with a CMD_SYNC each, the batch's own ATC_INV for every StreamID", () => {
    const r = run(sharedBatch(), 'v4');
    expect(tr(r, 'retry.sid').map((t) => t.d.sid)).toEqual([256, 512, 768]);
    const ring = r.sim.world.smmu.cmdq;
    const words = (slot: number) => Array.from(ring.subarray(slot * CMDQ_ENT_WORDS, (slot + 1) * CMDQ_ENT_WORDS));
    const writes = tr(r, 'cmdq.write');
    const begin = first(r, 'retry.begin')!;
    const original = writes.filter((t) => t.id < begin.id && t.d.op === 'ATC_INV').map((t) => t.d.slot as number);
    const retried = writes.filter((t) => t.id > begin.id && t.d.op === 'ATC_INV').map((t) => t.d.slot as number);
    expect(retried).toHaveLength(3);
    retried.forEach((slot, i) => expect(words(slot)).toEqual(words(original[i]!)));
    // Each retried ATC_INV is followed by its own CMD_SYNC.
    for (const slot of retried) {
      const next = writes.find((t) => t.id > writes.find((w) => w.d.slot === slot && w.id > begin.id)!.id)!;
      expect(next.d.op).toBe('CMD_SYNC');
    }
  });

  it('quarantines only the master whose retried ATC_INV times out again', () => {
    const r = run(sharedBatch(), 'v4');
    expect(r.result.devices.map((d) => [d.bdf, d.atsBroken, d.steEats[0]])).toEqual([
      [A, false, 1],
      [B, true, 0],
      [C, false, 1],
    ]);
    expect(r.result.stats.quarantines).toBe(1);
    expect(msgsWith(r, QUARANTINED)).toEqual([`mlx5_core ${B}: ${QUARANTINED}`]);
  });

  it('retries a StreamID once (consecutive ATC_INVs for its PASIDs are skipped) and skips the sibling SIDs of a master already broken', () => {
    const r = run(
      oneGroupScenario(
        [dev(NVME, [256, 257], { pasid: true })],
        [{ at: 0, op: 'attach', group: 0, domain: 'dma0', pasid: 1 }, ...faultSteps()],
      ),
      'v4',
    );
    expect(tr(r, 'cmdq.write', (d) => d.op === 'ATC_INV').length).toBeGreaterThanOrEqual(4);
    expect(tr(r, 'retry.sid').map((t) => t.d.sid)).toEqual([256]);
    expect(device(r).steEats).toEqual([0, 0]);
  });

  // Seed 003 #24, "Only need to retry with one ATC_INV per Stream ID (device)": the consecutive ATC_INV
  // for the same SID (another PASID of a healthy device) is skipped by that check alone, since the
  // device's retry succeeded and ats_broken stays clear. Without the skip it would be re-issued.
  it('retries a healthy StreamID once even when the batch holds an ATC_INV for each of its PASIDs', () => {
    const r = run(
      sharedDomainScenario(
        [dev(A, [256], { pasid: true }), dev(B, [512], { driver: 'mlx5_core' })],
        [{ at: 0, op: 'attach', group: 0, domain: 'dma0', pasid: 1 }, ...atcTimeoutSteps([A, B], B)],
      ),
      'v4',
    );
    const begin = first(r, 'retry.begin')!;
    // The failed batch: ATC_INV for A's RID, A's PASID 1 (the same SID 256) and B.
    expect(tr(r, 'cmdq.write', (d) => d.op === 'ATC_INV').filter((t) => t.id < begin.id)).toHaveLength(3);
    expect(tr(r, 'retry.sid').map((t) => t.d.sid)).toEqual([256, 512]);
    expect(r.result.devices.map((d) => [d.bdf, d.atsBroken])).toEqual([
      [A, false],
      [B, true],
    ]);
  });

  it('__arm_smmu_domain_inv_range() writes the words arm_smmu_atc_inv_to_cmd() gives: one ATC_INV per SID, SSV and the SubstreamID for a PASID', () => {
    const r = run(
      oneGroupScenario(
        [dev(NVME, [256, 257], { pasid: true })],
        [
          { at: 0, op: 'attach', group: 0, domain: 'dma0', pasid: 1 },
          { at: 10, op: 'map', domain: 'dma0', iova: '0x200000', pages: 2 },
          { at: 20, op: 'unmap', domain: 'dma0', iova: '0x200000', pages: 2 },
        ],
      ),
      'v4',
    );
    const writes = tr(r, 'cmdq.write', (d) => d.op === 'ATC_INV').filter((t) => t.t >= 20_000);
    const q = r.sim.world.smmu.cmdq;
    const got = writes.map((t) =>
      Array.from(q.subarray((t.d.slot as number) * CMDQ_ENT_WORDS, ((t.d.slot as number) + 1) * CMDQ_ENT_WORDS)),
    );
    const want = [
      [256, 0],
      [257, 0],
      [256, 1],
      [257, 1],
    ].map(([sid, ssid]) => encodeCmd(makeCmdAtcInv(sid!, ssid!, 0x200000, 2 * 4096)));
    expect(got.sort()).toEqual(want.sort());
  });

  it('more ATS entries than a batch holds: the ATC_INVs go out in array order over two batches, each as arm_smmu_atc_inv_to_cmd() gives it, before and after the array changes and across a snapshot', () => {
    // 40 devices with two SIDs each (80 ATC_INVs and a TLBI per unmap, batches of 64);
    // a 41st device joins the domain at 50 us, so the second unmap walks a new array
    // (the newcomer's SIDs sort first: every entry after them moves).
    const bdf = (i: number): string => `0000:${(0x10 + (i >> 3)).toString(16)}:0${i & 7}.0`;
    const devs = Array.from({ length: 41 }, (_, i) => dev(bdf(i), i < 40 ? [0x200 + 2 * i, 0x201 + 2 * i] : [0x100, 0x101]));
    const s = sharedDomainScenario(
      devs,
      [
        { at: 0, op: 'map', domain: 'dma0', iova: '0x200000', pages: 1 },
        { at: 10, op: 'unmap', domain: 'dma0', iova: '0x200000', pages: 1 },
        { at: 50, op: 'attach', group: 40, domain: 'dma0' },
        { at: 100, op: 'map', domain: 'dma0', iova: '0x300000', pages: 1 },
        { at: 110, op: 'unmap', domain: 'dma0', iova: '0x300000', pages: 1 },
      ],
      { smmu: { cmdqLog2Size: 10 } },
    );
    s.groups![40]!.domain = null;
    const atcInvWords = (sim: Simulation, fromUs: number): number[][] => {
      const q = sim.world.smmu.cmdq;
      return tr(sim, 'cmdq.write', (d) => d.op === 'ATC_INV')
        .filter((t) => t.t >= fromUs * 1000)
        .map((t) => Array.from(q.subarray((t.d.slot as number) * CMDQ_ENT_WORDS, ((t.d.slot as number) + 1) * CMDQ_ENT_WORDS)));
    };
    const sids = Array.from({ length: 80 }, (_, i) => 0x200 + i);
    const first = simAt(s, 'v4', 40);
    expect(atcInvWords(first, 10)).toEqual(sids.map((sid) => encodeCmd(makeCmdAtcInv(sid, 0, 0x200000, 4096))));
    const second = simAt(s, 'v4', 140);
    expect(atcInvWords(second, 110)).toEqual(
      [0x100, 0x101, ...sids].map((sid) => encodeCmd(makeCmdAtcInv(sid, 0, 0x300000, 4096))),
    );
    // Trace off, through a snapshot taken between the two unmaps: the ring ends as in one straight run.
    const straight = new Simulation(resolve(s), { policy: 'v4', trace: false });
    straight.runUntil(140_000);
    const restored = new Simulation(resolve(s), { policy: 'v4', trace: false });
    restored.runUntil(60_000);
    const snap = restored.snapshot();
    restored.runUntil(140_000);
    restored.restore(snap);
    restored.runUntil(140_000);
    expect(Array.from(restored.world.smmu.cmdq)).toEqual(Array.from(second.world.smmu.cmdq));
    expect(Array.from(straight.world.smmu.cmdq)).toEqual(Array.from(second.world.smmu.cmdq));
  });

  it('is not used upstream: the batch fails, nothing is retried or quarantined', () => {
    const r = run(sharedBatch(), 'baseline');
    expect(tr(r, 'retry.sid')).toHaveLength(0);
    expect(r.result.devices.every((d) => !d.atsBroken && d.steEats[0] === 1)).toBe(true);
  });
});

// Seed 003 thread, reply to #19: "Let's just assume all the ATCs in the batch have failed and blow up everything".
describe('driver-only: every ATS master of the failing batch is treated as broken', () => {
  it('blames all three masters without a retry and clears STE.EATS on each', () => {
    const r = run(sharedBatch(), 'driver-only');
    expect(tr(r, 'retry.sid')).toHaveLength(0);
    expect(r.result.devices.map((d) => [d.bdf, d.atsBroken, d.steEats[0]])).toEqual([
      [A, true, 0],
      [B, true, 0],
      [C, true, 0],
    ]);
    expect(r.result.stats.quarantines).toBe(3);
  });

  it('is what v4 does with the retryPerSid flag off', () => {
    const r = run(sharedBatch(), { preset: 'v4', retryPerSid: false });
    expect(tr(r, 'retry.sid')).toHaveLength(0);
    expect(r.result.devices.every((d) => d.atsBroken)).toBe(true);
  });

  // Reply to #11: "None of this async work seems functionally necessary": no core worker.
  it('leaves the IOMMU core alone: no group_device is blocked and recovery_cnt stays 0', () => {
    const r = run(sharedBatch(), 'driver-only');
    expect(r.result.devices.every((d) => d.blocked === 'NO')).toBe(true);
    expect(r.result.groups.every((g) => g.recoveryCnt === 0)).toBe(true);
    expect(msgsWith(r, QUARANTINED)).toEqual([]);
  });

  // Thread, 2026-05-19 22:30 and 23:02: "3. Driver calls pci_disable_ats() and clears STE.EATS", and a later blocking
  // domain must "restore core/driver/hw synchronization of EATS and the pci_enable_ats()".
  it('turns ATS off at the endpoint, so its stale ATC is no longer used even with CR0.ATSCHK = 0', () => {
    const r = run(
      scenario({
        smmu: { atsChk: false },
        steps: [...faultSteps(), { at: 5000, op: 'dma', device: NVME, iova: '0x10000', write: true }],
      }),
      'driver-only',
    );
    expect(device(r).atsBroken).toBe(true);
    expect(r.result.stats.staleAtcWrites).toBe(0);
    expect(r.result.stats.corruptedPages).toBe(0);
  });
});

// Seed 003 #22: arm_smmu_atc_inv_master() builds its batch on master->ats_invs, so its timeouts are retried too.
describe('ATC flush of one master (arm_smmu_atc_inv_master)', () => {
  it("v4 retries and quarantines when the disable-ATS flush of a reset's blocking attach times out", () => {
    const r = run(
      scenario({
        steps: [
          { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
          { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
          { at: 20, op: 'fault', device: NVME, kind: 'atc-unresponsive' },
          { at: 50, op: 'reset', device: NVME, method: 'flr', result: '-ETIMEDOUT' },
        ],
      }),
      'v4',
    );
    expect(first(r, 'atc.inv.send')!.d.all).toBe(true);
    expect(tr(r, 'retry.sid').map((t) => t.d.sid)).toEqual([256]);
    expect(device(r).atsBroken).toBe(true);
    expect(device(r).blocked).toBe('BROKEN');
  });
});

// Seed 003 #12: the log prints sync_prod (with its wrap bit); the bitmap is indexed by Q_IDX().
describe('atc_sync_timeouts after the ring wraps', () => {
  it('prints prod with the wrap bit and marks the slot index', () => {
    const cfg = (at: number): Step => ({ at, op: 'cmd', cmd: { op: 'CFGI_ALL' } });
    const r = run(
      scenario({
        smmu: { cmdqLog2Size: 3 },
        steps: [
          { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
          { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
          { at: 20, op: 'fault', device: NVME, kind: 'atc-unresponsive' },
          cfg(30),
          cfg(40),
          cfg(50),
          cfg(60),
          { at: 100, op: 'cmd', cmd: { op: 'ATC_INV', sid: 256, size: 52 } },
        ],
      }),
      'v4',
    );
    expect(tr(r, 'atc_sync_timeouts.set').map((t) => t.d.slot)).toEqual([1]);
    expect(msgsWith(r, EIO_LINE)).toEqual([`${SMMU}${EIO_LINE}0x00000009`]);
    expect(retAt(r, 'arm_smmu_cmdq_issue_cmdlist', 100)).toBe('-EIO');
  });
});

/* ========================================================================= */
/* 4. Quarantine in the driver                                                */
/* ========================================================================= */

// Seed 003 #24: arm_smmu_master_disable_ats(); #18 and #23: ats_broken.
describe('arm_smmu_master_disable_ats(): the surgical STE update', () => {
  const twoSid = oneGroupScenario([dev(NVME, [256, 257])], faultSteps());

  it('clears STE.EATS on every SID of the master, then CFGI_STEs each of them before one CMD_SYNC', () => {
    for (const p of ['v4', 'driver-only'] as const) {
      const r = run(twoSid, p);
      const q = first(r, 'quarantine.driver')!;
      const steWrites = tr(r, 'ste.write', (d) => d.eats === 0 && !('config' in d)).filter((t) => t.id < q.id);
      expect(steWrites.map((t) => t.d.sid)).toEqual([256, 257]);
      const after = tr(r, 'cmdq.write')
        .filter((t) => t.id > steWrites[1]!.id && t.id < q.id)
        .map((t) => t.d.op);
      expect(after).toEqual(['CFGI_STE', 'CFGI_STE', 'CMD_SYNC']);
      // The SMMU re-read both STEs and saw EATS = 0 before ats_broken was set.
      const cfgi = tr(r, 'ste.cfgi').filter((t) => t.id > steWrites[1]!.id && t.id < q.id);
      expect(cfgi.map((t) => [t.d.sid, t.d.eats])).toEqual([
        [256, 0],
        [257, 0],
      ]);
      expect(device(r).steEats).toEqual([0, 0]);
      expect(device(r).atsBroken).toBe(true);
    }
  });

  it('v4 reports the device broken to the core after setting ats_broken', () => {
    const r = run(twoSid, 'v4');
    const q = first(r, 'quarantine.driver')!;
    const rep = first(r, 'report_broken')!;
    expect(rep.id).toBeGreaterThan(q.id);
    expect(rep.d.bdf).toBe(NVME);
  });
});

// Seed 003 #18: "Do not issue ATC_INV that will definitely time out".
describe('ats_broken', () => {
  const moreUnmaps: Step[] = [3000, 6000, 9000].flatMap((at): Step[] => [
    { at, op: 'map', domain: 'dma0', iova: '0x40000', pages: 1 },
    { at: at + 100, op: 'unmap', domain: 'dma0', iova: '0x40000', pages: 1 },
  ]);

  it('stops every further ATC_INV to the broken master (v4 and driver-only)', () => {
    for (const p of ['v4', 'driver-only'] as const) {
      const r = run(scenario({ steps: [...faultSteps(), ...moreUnmaps] }), p);
      const q = first(r, 'quarantine.driver')!;
      expect(tr(r, 'cmdq.write', (d) => d.op === 'ATC_INV').filter((t) => t.id > q.id)).toHaveLength(0);
      expect(tr(r, 'cmdq.error').filter((t) => t.id > q.id)).toHaveLength(0);
    }
  });

  it('without the fence every later unmap times out again (the spam the series removes)', () => {
    const r = run(scenario({ steps: [...faultSteps(), ...moreUnmaps] }), { preset: 'driver-only', atsBrokenFence: false });
    expect(r.result.stats.atcInvTimeouts).toBeGreaterThanOrEqual(4);
  });

  // Seed 003 #18 (arm_smmu_ats_supported) and #23 (arm_smmu_write_ste masks EATS under ats_broken_lock).
  it('keeps an attach from turning EATS back on; without the fence the attach re-enables it', () => {
    const s = scenario({
      kernel: { workerLatencyUs: 5000 },
      steps: [...faultSteps(), { at: 2100, op: 'attach', group: 0, domain: 'dma1' }],
    });
    for (const p of ['v4', 'driver-only'] as const) {
      const r = run(s, p);
      expect(retAt(r, 'iommu_attach_group', 2100)).toBe('0');
      // The target equals the live STE (same CD table, no ATS, EATS already cleared in place), so
      // arm_smmu_write_entry() writes and syncs nothing (issue 12, point 5).
      const w = tr(r, 'ste.write', (d) => d.sid === 256 && typeof d.why === 'string' && d.why.includes('dma1'));
      expect(w).toEqual([]);
      expect(device(r).steEats).toEqual([0]);
    }
    const off = run(s, V4_NO_FENCE);
    const w = tr(off, 'ste.write', (d) => d.sid === 256 && typeof d.why === 'string' && d.why.includes('dma1'));
    expect(w.map((t) => t.d.eats)).toEqual([1]);
  });
  // The invariant behind the fence (engine/cmdq.ts checkAtcInvToBroken): the kernel never writes an ATC_INV for a
  // master already ats_broken. The checker must see one the kernel would write, and must not blame a scenario's
  // own raw command for it.
  it('the "no ATC_INV to a broken master" check reports a kernel-built ATC_INV, and notes a scenario\'s own', () => {
    const sim = new Simulation(resolve(scenario({ steps: faultSteps() })), { policy: 'v4' });
    sim.runUntil(5_000_000);
    expect(sim.world.k.masters[NVME]!.atsBroken).toBe(true);
    expect(sim.out.violations).toEqual([]);
    const words = Uint32Array.from(encodeCmd(makeCmdAtcInv(256, 0, 0, 0)));
    sim.spawnKernel('kernel-built ATC_INV', issueCmdlist(words, true));
    expect(sim.out.violations.map((v) => v.invariant)).toEqual(['no-atc-inv-to-broken']);
    sim.spawnKernel('a scenario cmd step', issueCmdlist(words, true, undefined, undefined, undefined, true));
    expect(sim.out.violations).toHaveLength(1);
    expect(sim.out.notes.join('\n')).toMatch(/cmd step wrote an ATC_INV to 0000:01:00\.0 \(sid 256\)/);
  });
});

/* ========================================================================= */
/* 5. Quarantine in the IOMMU core                                            */
/* ========================================================================= */

// Seed 003 #10 and #11: iommu_report_device_broken() and iommu_group_broken_worker().
describe('iommu_group_broken_worker()', () => {
  it('blocks the device with BLOCKED_BROKEN, recovery_cnt++, and warns "IOMMU has quarantined the device"', () => {
    const r = run(
      scenario({ steps: [...faultSteps(), { at: 5000, op: 'dma', device: NVME, iova: '0x10000', write: true }] }),
      'v4',
    );
    expect(device(r).blocked).toBe('BROKEN');
    expect(device(r).brokenPending).toBe(false);
    expect(r.result.groups[0]!.recoveryCnt).toBe(1);
    expect(msgsWith(r, QUARANTINED)).toEqual([`nvme ${NVME}: ${QUARANTINED}`]);
    // It runs from a work item, workerLatencyUs after the report.
    const rep = first(r, 'report_broken')!;
    const q = first(r, 'gdev.state', (d) => d.event === 'QUARANTINE')!;
    expect(q.t).toBeGreaterThanOrEqual(rep.t + 10_000);
    // The RID sits in the blocking domain: DMA from the device is aborted.
    expect(tr(r, 'dma').pop()!.d.outcome).toBe('blocked');
  });

  it('moves PASIDs to the blocking domain too (iommu_remove_dev_pasid)', () => {
    const r = run(
      oneGroupScenario(
        [dev(NVME, [256], { pasid: true })],
        [{ at: 0, op: 'attach', group: 0, domain: 'dma1', pasid: 3 }, ...faultSteps()],
      ),
      'v4',
    );
    expect(device(r).blocked).toBe('BROKEN');
    expect(tr(r, 'pasid.remove').map((t) => t.d.pasid)).toEqual([3]);
  });

  it('skips the quarantine when a successful reset cleared broken_pending before the work ran', () => {
    const r = run(
      scenario({
        kernel: { workerLatencyUs: 1000 },
        steps: [
          { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
          { at: 100, op: 'report-broken', device: NVME },
          { at: 110, op: 'reset', device: NVME, method: 'flr', result: 0, durationUs: 200 },
          { at: 2000, op: 'dma', device: NVME, iova: '0x10000', write: true },
        ],
      }),
      'v4',
    );
    expect(tr(r, 'worker.skip')).toHaveLength(1);
    expect(msgsWith(r, QUARANTINED)).toEqual([]);
    expect(device(r).blocked).toBe('NO');
    expect(tr(r, 'dma').pop()!.d.outcome).toBe('ok');
  });

  it('escalates a device that is being reset (RESETTING -> BROKEN) without a second recovery_cnt', () => {
    const r = run(
      scenario({
        steps: [
          { at: 100, op: 'reset', device: NVME, method: 'flr', result: 0, durationUs: 10_000 },
          { at: 200, op: 'report-broken', device: NVME },
          { at: 5000, op: 'attach', group: 0, domain: 'dma1' },
        ],
      }),
      'v4',
    );
    expect(blockedPath(r)).toEqual(['RESETTING', 'BROKEN', 'NO']);
    const cnts = tr(r, 'recovery_cnt').map((t) => Number(t.d.value));
    expect(Math.max(...cnts)).toBe(1);
    expect(retAt(r, 'iommu_attach_group', 5000)).toBe('-EBUSY');
    expect(msgsWith(r, UNBLOCKED)).toHaveLength(1);
  });

  it('escalates a RESET_FAILED device to BROKEN, logs the quarantine, and keeps recovery_cnt at 1', () => {
    const r = run(resetOnly('flr', '-EIO', false, [{ at: 200_000, op: 'report-broken', device: NVME }]), 'v4');
    expect(blockedPath(r)).toEqual(['RESETTING', 'RESET_FAILED', 'BROKEN']);
    expect(msgsWith(r, QUARANTINED)).toHaveLength(1);
    expect(r.result.groups[0]!.recoveryCnt).toBe(1);
  });

  // Seed 003 #11 ("quarantine it indefinitely") and #04: prepare/done return early without ATS.
  it('keeps a device without ATS quarantined through a successful reset', () => {
    const r = run(
      oneGroupScenario(
        [dev(NVME, [256], { ats: false })],
        [
          { at: 100, op: 'report-broken', device: NVME },
          { at: 1000, op: 'reset', device: NVME, method: 'flr', result: 0, durationUs: 1000 },
        ],
      ),
      'v4',
    );
    expect(device(r).blocked).toBe('BROKEN');
    expect(r.result.groups[0]!.recoveryCnt).toBe(1);
    expect(msgsWith(r, UNBLOCKED)).toEqual([]);
  });

  // Seed 003 #11: disable_work_sync() in __iommu_group_free_device().
  it('never runs for a device unplugged before it', () => {
    const r = run(
      scenario({
        kernel: { workerLatencyUs: 1000 },
        steps: [
          { at: 100, op: 'report-broken', device: NVME },
          { at: 200, op: 'unplug', device: NVME },
        ],
      }),
      'v4',
    );
    expect(msgsWith(r, QUARANTINED)).toEqual([]);
    expect(r.result.groups[0]!.recoveryCnt).toBe(0);
  });

  it('does not exist in baseline and driver-only: the core never blocks the device', () => {
    for (const p of ['baseline', 'driver-only'] as const) {
      const r = run(scenario({ steps: faultSteps() }), p);
      expect(device(r).blocked).toBe('NO');
      expect(msgsWith(r, QUARANTINED)).toEqual([]);
    }
  });
});

/* ========================================================================= */
/* 6. PCI resets                                                              */
/* ========================================================================= */

const PLAIN = ['flr', 'af_flr', 'pm', 'bus', 'acpi'] as const;
const resetOnly = (method: string, result: number | string = 0, probe = false, extra: Step[] = []): Scenario =>
  scenario({
    steps: [{ at: 100, op: 'reset', device: NVME, method, result, probe } as Step, ...extra],
  });

// Seed 003 #01, #04 and upstream "PCI: Suspend iommu function prior to resetting a device".
describe('PCI reset methods and pci_dev_reset_iommu_prepare/done()', () => {
  it('every method blocks the device with prepare, resets it, then calls done(result)', () => {
    for (const method of PLAIN) {
      const r = run(resetOnly(method), 'v4');
      expect(r.result.calls.filter((c) => c.fn.startsWith('pci_dev_reset_iommu')).map((c) => [c.fn, c.args])).toEqual([
        ['pci_dev_reset_iommu_prepare', [NVME]],
        ['pci_dev_reset_iommu_done', [NVME, '0']],
      ]);
      const prep = first(r, 'gdev.state', (d) => d.event === 'PREPARE')!;
      const begin = first(r, 'reset.begin')!;
      const done = first(r, 'gdev.state', (d) => d.event === 'RESET_DONE')!;
      expect(prep.id).toBeLessThan(begin.id);
      expect(begin.id).toBeLessThan(done.id);
      expect(blockedPath(r)).toEqual(['RESETTING', 'NO']);
    }
  });

  it('v4 (#01) skips prepare/done for a probe of the bus and device-specific resets; upstream suspended the IOMMU for them', () => {
    for (const method of ['bus', 'quirk'] as const) {
      expect(rets(run(resetOnly(method, 0, true), 'v4'), 'pci_dev_reset_iommu_prepare')).toEqual([]);
      expect(rets(run(resetOnly(method, 0, true), 'baseline'), 'pci_dev_reset_iommu_prepare')).toEqual(['0']);
      expect(rets(run(resetOnly(method, 0, true), 'baseline'), 'pci_dev_reset_iommu_done')).toEqual(['0']);
    }
  });

  it('it is the probeSkipsPrepare flag (#01) alone that makes the difference', () => {
    const r = run(resetOnly('bus', 0, true), { preset: 'v4', probeSkipsPrepare: false });
    expect(rets(r, 'pci_dev_reset_iommu_prepare')).toEqual(['0']);
    expect(blockedPath(r)).toEqual(['RESETTING', 'NO']);
  });

  it('the other methods short-circuit a probe before touching the IOMMU, under every policy', () => {
    for (const method of ['flr', 'af_flr', 'pm', 'acpi', 'cxl_bus'] as const) {
      for (const p of ['baseline', 'v4'] as const) {
        const r = run(resetOnly(method, 0, true), p);
        expect(r.result.calls.filter((c) => c.fn.startsWith('pci_dev_reset_iommu'))).toEqual([]);
      }
    }
  });

  // Seed 000: cxl_reset_bus_function() calls pci_reset_bus_function(); reset_depth makes prepare/done re-entrant.
  it('cxl_bus nests a bus reset: reset_depth 1 -> 2 -> 1 -> 0 and only the outermost done() unblocks', () => {
    const r = run(resetOnly('cxl_bus', 0, false, [{ at: 50_000, op: 'attach', group: 0, domain: 'dma1' }]), 'v4');
    expect(depthPath(r)).toEqual([1, 2, 1, 0]);
    const states = tr(r, 'gdev.state', (d) => d.event === 'PREPARE' || d.event === 'RESET_DONE').map((t) => [t.d.event, t.d.to]);
    expect(states).toEqual([
      ['PREPARE', 'RESETTING'],
      ['PREPARE', 'RESETTING'],
      ['RESET_DONE', 'RESETTING'],
      ['RESET_DONE', 'NO'],
    ]);
    expect(rets(r, 'pci_dev_reset_iommu_prepare')).toEqual(['0', '0']);
    expect(retAt(r, 'iommu_attach_group', 50_000)).toBe('-EBUSY');
    expect(r.result.groups[0]!.recoveryCnt).toBe(0);
  });

  it('without the seed 000 fix the nested prepare WARNs and fails with -EBUSY, failing the whole reset', () => {
    const r = run(resetOnly('cxl_bus'), { preset: 'v4', nestedResetFix: false });
    expect(rets(r, 'pci_dev_reset_iommu_prepare')).toEqual(['0', '-EBUSY']);
    expect(msgsWith(r, 'WARNING:').some((l) => l.includes('pci_dev_reset_iommu_prepare'))).toBe(true);
    expect(msgsWith(r, 'failed to stop IOMMU for a PCI reset')).toEqual([
      `nvme ${NVME}: failed to stop IOMMU for a PCI reset: -16`,
    ]);
    expect(rets(r, 'cxl_reset_bus_function')).toEqual(['-EBUSY']);
  });

  // Seed 000 (Kevin Tian on reset_hinic_vf_dev()) and seed 003 #02.
  it('a device-specific reset whose firmware wait times out after its FLR keeps the device blocked', () => {
    const r = run(
      resetOnly('quirk', '-ETIMEDOUT', false, [{ at: 150_000, op: 'dma', device: NVME, iova: '0x10000', write: true }]),
      'v4',
    );
    expect(depthPath(r).slice(0, 3)).toEqual([1, 2, 1]);
    // The inner FLR's done(0) only moved reset_depth; the device was still blocked during the firmware wait.
    const inner = tr(r, 'gdev.state', (d) => d.event === 'RESET_DONE')[0]!;
    expect(inner.d.to).toBe('RESETTING');
    expect(first(r, 'dma')!.d.outcome).not.toBe('ok');
    expect(device(r).blocked).toBe('RESET_FAILED');
    expect(msgsWith(r, RESET_FAILED)).toEqual([`nvme ${NVME}: ${RESET_FAILED}`]);
    expect(r.result.groups[0]!.recoveryCnt).toBe(1);
  });

  // Seed 001: "pci_dev_reset_iommu_prepare() already does an early return for non-ATS devices".
  it('prepare/done are no-ops for a device without ATS, whatever the reset result', () => {
    const s = oneGroupScenario(
      [dev(NVME, [256], { ats: false })],
      [
        { at: 100, op: 'reset', device: NVME, method: 'flr', result: '-ETIMEDOUT', durationUs: 1000 },
        { at: 200, op: 'attach', group: 0, domain: 'dma1' },
      ],
    );
    for (const p of ['baseline', 'v4'] as const) {
      const r = run(s, p);
      expect(tr(r, 'gdev.state')).toHaveLength(0);
      expect(retAt(r, 'iommu_attach_group', 200)).toBe('0');
      expect(device(r).blocked).toBe('NO');
      expect(r.result.groups[0]!.recoveryCnt).toBe(0);
      expect(msgsWith(r, 'Keep it blocked')).toEqual([]);
    }
  });
});

/* ========================================================================= */
/* 7. pci_dev_reset_iommu_done(pdev, reset_result)                            */
/* ========================================================================= */

// Seed 003 #04, #05, #10, #11; the decrement of reset_depth at the top follows upstream (smmu-facts §6).
describe('pci_dev_reset_iommu_done(pdev, reset_result)', () => {
  it('-ENOTTY: warns "Reset may have been skipped. Keep it blocked conservatively" and leaves it RESET_FAILED', () => {
    const r = run(resetOnly('bus', '-ENOTTY', false, [{ at: 200_000, op: 'attach', group: 0, domain: 'dma1' }]), 'v4');
    expect(msgsWith(r, RESET_SKIPPED)).toEqual([`nvme ${NVME}: ${RESET_SKIPPED}`]);
    expect(msgsWith(r, RESET_FAILED)).toEqual([]);
    expect(blockedPath(r)).toEqual(['RESETTING', 'RESET_FAILED']);
    expect(r.result.groups[0]!.recoveryCnt).toBe(1);
    expect(device(r).resetDepth).toBe(0);
    expect(retAt(r, 'iommu_attach_group', 200_000)).toBe('-EBUSY');
  });

  // Seed 003 #04, pci-acpi.c: a failing _RST is reported as -ENOTTY and passed to done().
  it('a failing ACPI _RST reaches done() as -ENOTTY', () => {
    const r = run(resetOnly('acpi', '-ENOTTY'), 'v4');
    expect(msgsWith(r, 'ACPI _RST failed')).toHaveLength(1);
    expect(rets(r, 'pci_dev_acpi_reset')).toEqual(['-ENOTTY']);
    expect(r.result.calls.find((c) => c.fn === 'pci_dev_reset_iommu_done')!.args).toEqual([NVME, '-ENOTTY']);
    expect(msgsWith(r, RESET_SKIPPED)).toHaveLength(1);
    expect(device(r).blocked).toBe('RESET_FAILED');
  });

  it('another error: logs "Reset failed. Keep it blocked to protect memory" and RESETTING becomes RESET_FAILED', () => {
    for (const p of ['v4', 'driver-only'] as const) {
      const r = run(resetOnly('flr', '-EIO'), p);
      expect(msgsWith(r, RESET_FAILED)).toEqual([`nvme ${NVME}: ${RESET_FAILED}`]);
      expect(device(r).blocked).toBe('RESET_FAILED');
      expect(r.result.groups[0]!.recoveryCnt).toBe(1);
    }
  });

  // Issue 12, point 6: each method ends as the PCI core's code can (pcie_flr(), pci_af_flr(),
  // pci_pm_reset(), pci_reset_bus_function(), cxl_reset_bus_function(), pci_dev_acpi_reset(),
  // reset_hinic_vf_dev() with seed 003 #02), so done() sees what the seed 003 #04 FIXME is about.
  const withOutcome = (method: string, outcome: string, extra: Step[] = []): Scenario =>
    scenario({
      steps: [
        { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 1 },
        { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
        { at: 100, op: 'reset', device: NVME, method, outcome } as Step,
        ...extra,
      ],
    });
  const atcOf = (r: Run): number => r.sim.world.pci.endpoints[NVME]!.atc.length;

  it('not-ready: pci_dev_wait() backs off to 65535 ms and gives up, -ENOTTY after prepare', () => {
    for (const method of ['flr', 'af_flr', 'pm', 'bus'] as const) {
      const r = run(withOutcome(method, 'not-ready'), 'v4');
      const what = { flr: 'FLR', af_flr: 'AF_FLR', pm: 'PM D3hot->D0', bus: 'bus reset' }[method];
      expect(messages(r).filter((m) => m.includes('not ready'))).toEqual([
        ...[1023, 2047, 4095, 8191, 16383, 32767].map((ms) => `nvme ${NVME}: not ready ${ms}ms after ${what}; waiting`),
        `nvme ${NVME}: not ready 65535ms after ${what}; giving up`,
      ]);
      expect(r.result.calls.find((c) => c.fn === 'pci_dev_reset_iommu_done')!.args).toEqual([NVME, '-ENOTTY']);
      expect(msgsWith(r, RESET_SKIPPED)).toHaveLength(1);
      expect(device(r).blocked).toBe('RESET_FAILED');
      const end = first(r, 'reset.end')!;
      const begin = first(r, 'reset.begin')!;
      expect(end.t - begin.t).toBe(begin.d.durationUs * 1000 + 65_535_000_000);
    }
  });

  it('skipped: a bus reset that finds other devices on the bus resets nothing and returns -ENOTTY after prepare', () => {
    for (const method of ['bus', 'cxl_bus'] as const) {
      const r = run(withOutcome(method, 'skipped'), 'v4');
      expect(tr(r, 'reset.begin')).toEqual([]);
      expect(tr(r, 'reset.skipped')).toHaveLength(1);
      expect(r.result.calls.filter((c) => c.fn === 'pci_dev_reset_iommu_done').map((c) => c.args[1])).toEqual(
        method === 'bus' ? ['-ENOTTY'] : ['-ENOTTY', '-ENOTTY'],
      );
      expect(msgsWith(r, RESET_SKIPPED)).toHaveLength(1);
    }
  });

  it('unsupported: every method returns -ENOTTY before prepare; pm of a function not in D0 returns -EINVAL before it', () => {
    for (const method of [...PLAIN, 'cxl_bus', 'quirk'] as const) {
      const r = run(withOutcome(method, 'unsupported'), 'v4');
      expect(r.result.calls.filter((c) => c.fn.startsWith('pci_dev_reset_iommu'))).toEqual([]);
      expect(r.result.calls.at(-1)!.ret).toBe('-ENOTTY');
      expect(device(r).blocked).toBe('NO');
    }
    const pm = run(withOutcome('pm', 'not-d0'), 'v4');
    expect(rets(pm, 'pci_pm_reset')).toEqual(['-EINVAL']);
    expect(pm.result.calls.filter((c) => c.fn.startsWith('pci_dev_reset_iommu'))).toEqual([]);
  });

  it('ack-timeout: the hinic quirk FLR succeeds, its firmware does not acknowledge: -ETIMEDOUT, "Reset failed"', () => {
    const r = run(withOutcome('quirk', 'ack-timeout'), 'v4');
    expect(rets(r, 'pci_dev_specific_reset')).toEqual(['-ETIMEDOUT']);
    expect(msgsWith(r, 'Reset dev timeout, FLR ack reg: 0x00040000')).toHaveLength(1);
    expect(msgsWith(r, RESET_FAILED)).toHaveLength(1);
    expect(atcOf(r)).toBe(0);
  });

  it('the validator takes an outcome the method can have, and refuses one it cannot or a result that contradicts it', () => {
    const errs = (step: Record<string, unknown>): string[] => {
      const v = validateScenario(scenario({ steps: [{ at: 100, op: 'reset', device: NVME, ...step } as Step] }));
      return v.ok ? [] : v.errors.map((e) => `${e.path}: ${e.message}`);
    };
    expect(errs({ method: 'bus', outcome: 'skipped' })).toEqual([]);
    expect(errs({ method: 'flr', outcome: 'not-ready', result: '-ENOTTY' })).toEqual([]);
    expect(errs({ method: 'flr', outcome: 'skipped' })).toEqual([
      'steps[0].outcome: a "flr" reset cannot end "skipped": its outcomes are ok, unsupported, not-ready',
    ]);
    expect(errs({ method: 'quirk', outcome: 'ack-timeout', result: '-EIO' })).toEqual([
      'steps[0].result: outcome "ack-timeout" returns -ETIMEDOUT, not -EIO: give one of the two',
    ]);
    expect(errs({ method: 'flr', outcome: 'later' })[0]).toMatch(/^steps\[0\]\.outcome: /);
  });

  it('a result the method cannot return runs as given, with a note; results it can return have none', () => {
    const r = run(resetOnly('flr', '-ETIMEDOUT'), 'v4');
    expect(rets(r, 'pcie_reset_flr')).toEqual(['-ETIMEDOUT']);
    expect(r.result.notes).toEqual([
      "steps[0]: the PCI core's pcie_reset_flr() cannot return -ETIMEDOUT (it returns 0, -ENOTTY); the reset runs and returns it as given.",
    ]);
    for (const [method, result] of [
      ['flr', '-ENOTTY'],
      ['bus', '-ENOTTY'],
      ['acpi', '-ENOTTY'],
      ['pm', '-EINVAL'],
      ['quirk', '-ETIMEDOUT'],
    ] as const) {
      expect(run(resetOnly(method, result), 'v4').result.notes, `${method} ${result}`).toEqual([]);
    }
  });

  // Issue 12, point 3. dev_err_ratelimited() defines its ratelimit state `static` in the macro's
  // expansion (include/linux/dev_printk.h): one state per call site, shared by every device, 10 lines
  // per 5 s, then "<func>: N callbacks suppressed" when the next interval starts (lib/ratelimit.c).
  // Seed 003 #04 adds the two dev_*_ratelimited() call sites of done().
  it('twelve devices failing a reset print ten lines, then "N callbacks suppressed" at the next interval', () => {
    const bdf = (i: number) => `0000:${(i + 1).toString(16).padStart(2, '0')}:00.0`;
    const s = scenario({
      groups: Array.from({ length: 13 }, (_, i) => ({
        id: i,
        domain: 'dma0',
        devices: [{ bdf: bdf(i), sids: [256 + 8 * i], ats: true, pasid: false, driver: 'nvme' }],
      })),
      steps: [
        ...Array.from({ length: 12 }, (_, i) => ({
          at: 10 * i,
          op: 'reset' as const,
          device: bdf(i),
          method: 'flr' as const,
          result: '-EIO',
        })),
        { at: 6_000_000, op: 'reset', device: bdf(12), method: 'flr', result: '-EIO' },
      ],
    });
    const r = run(s, 'v4');
    const lines = messages(r).filter((m) => m.includes(RESET_FAILED) || m.includes('callbacks suppressed'));
    expect(lines).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `nvme ${bdf(i)}: ${RESET_FAILED}`),
      'pci_dev_reset_iommu_done: 2 callbacks suppressed',
      `nvme ${bdf(12)}: ${RESET_FAILED}`,
    ]);
    // Every device is kept blocked all the same: the ratelimit drops only the lines.
    expect(r.result.devices.every((d) => d.blocked === 'RESET_FAILED')).toBe(true);
  });

  it('a quarantined device stays BROKEN through a prepare and a failed reset, counted once in recovery_cnt', () => {
    const r = run(
      scenario({ steps: [...faultSteps(), { at: 5000, op: 'reset', device: NVME, method: 'flr', result: '-ETIMEDOUT' }] }),
      'v4',
    );
    expect(blockedPath(r)).toEqual(['NO', 'BROKEN']);
    const prep = first(r, 'gdev.state', (d) => d.event === 'PREPARE')!;
    expect([prep.d.from, prep.d.to]).toEqual(['BROKEN', 'BROKEN']);
    expect(tr(r, 'recovery_cnt').map((t) => t.d.value)).toEqual([1]);
    expect(device(r).blocked).toBe('BROKEN');
    expect(msgsWith(r, RESET_FAILED)).toHaveLength(1);
  });

  it('success: reset_device_done clears ats_broken, then broken_pending, then the RID is re-attached and the device unblocked', () => {
    const r = run(
      scenario({
        steps: [
          ...faultSteps(),
          { at: 5000, op: 'reset', device: NVME, method: 'flr', result: 0 },
          { at: 200_000, op: 'map', domain: 'dma0', iova: '0x20000', pages: 1 },
          { at: 200_010, op: 'dma', device: NVME, iova: '0x20000', write: true },
        ],
      }),
      'v4',
    );
    const unq = first(r, 'unquarantine.driver')!;
    const clear = first(r, 'gdev.state', (d) => d.event === 'CLEAR_BROKEN_PENDING')!;
    const attach = tr(r, 'attach.end', (d) => d.domain === 'dma0').pop()!;
    const done = first(r, 'gdev.state', (d) => d.event === 'RESET_DONE')!;
    expect(unq.id).toBeLessThan(clear.id);
    expect(clear.id).toBeLessThan(attach.id);
    expect(attach.id).toBeLessThan(done.id);
    expect([done.d.from, done.d.to]).toEqual(['BROKEN', 'NO']);
    const d = device(r);
    expect([d.blocked, d.atsBroken, d.brokenPending, d.steEats]).toEqual(['NO', false, false, [1]]);
    expect(r.result.groups[0]!.recoveryCnt).toBe(0);
    expect(msgsWith(r, UNBLOCKED)).toEqual([`nvme ${NVME}: ${UNBLOCKED}`]);
    expect(r.result.stats.unquarantines).toBe(1);
    expect(tr(r, 'dma').pop()!.d).toMatchObject({ outcome: 'ok', via: 'translated' });
  });

  it('prints "Device is unblocked after successful reset" only when the device had been worse than RESETTING', () => {
    expect(msgsWith(run(resetOnly('flr'), 'v4'), UNBLOCKED)).toEqual([]);
    const again = run(
      resetOnly('bus', '-ENOTTY', false, [{ at: 300_000, op: 'reset', device: NVME, method: 'flr', result: 0 }]),
      'v4',
    );
    expect(blockedPath(again)).toEqual(['RESETTING', 'RESET_FAILED', 'NO']);
    expect(msgsWith(again, UNBLOCKED)).toHaveLength(1);
    expect(again.result.groups[0]!.recoveryCnt).toBe(0);
  });

  it('baseline (before #04): done() unblocks even after a failed reset', () => {
    for (const p of ['baseline', { preset: 'v4', resetResultAware: false }] as const) {
      const r = run(resetOnly('flr', '-ETIMEDOUT', false, [{ at: 200_000, op: 'attach', group: 0, domain: 'dma1' }]), p);
      expect(device(r).blocked).toBe('NO');
      expect(r.result.groups[0]!.recoveryCnt).toBe(0);
      expect(msgsWith(r, 'Keep it blocked')).toEqual([]);
      expect(retAt(r, 'iommu_attach_group', 200_000)).toBe('0');
    }
  });

  it('driver-only: a successful FLR restores everything (ats_broken cleared, STE.EATS back on)', () => {
    const r = run(
      scenario({ steps: [...faultSteps(), { at: 5000, op: 'reset', device: NVME, method: 'flr', result: 0 }] }),
      'driver-only',
    );
    const d = device(r);
    expect([d.blocked, d.atsBroken, d.steEats]).toEqual(['NO', false, [1]]);
    expect(r.result.stats.unquarantines).toBe(1);
    expect(msgsWith(r, UNBLOCKED)).toEqual([]);
  });
});

/* ========================================================================= */
/* 8. Attach gating while a group recovers, and unplug                       */
/* ========================================================================= */

// Seed 000 (recovery_cnt gates __iommu_group_set_domain_internal and iommu_attach_device_pasid), upstream
// iommu_deferred_attach() on gdev->blocked (smmu-facts §6), seed 003 #04 (unplug of a blocked device).
describe('attach while recovery_cnt > 0, deferred attach and unplug', () => {
  const F0 = '0000:07:00.0',
    F1 = '0000:07:00.1';
  const card = (extra: Step[]): Scenario =>
    oneGroupScenario(
      [dev(F0, [1792], { driver: 'ice', pasid: true }), dev(F1, [1793], { driver: 'ice', pasid: true })],
      [
        { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
        { at: 10, op: 'dma', device: F0, iova: '0x10000', write: true },
        { at: 20, op: 'fault', device: F0, kind: 'atc-unresponsive' },
        { at: 30, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 2 },
        ...extra,
      ],
    );

  it('rejects group and PASID attaches with -EBUSY for every device of the group', () => {
    const r = run(
      card([
        { at: 5000, op: 'attach', group: 0, domain: 'dma1' },
        { at: 5010, op: 'attach', group: 0, domain: 'dma1', pasid: 2 },
      ]),
      'v4',
    );
    expect(r.result.groups[0]!.recoveryCnt).toBe(1);
    expect(retAt(r, 'iommu_attach_group', 5000)).toBe('-EBUSY');
    expect(retAt(r, 'iommu_attach_device_pasid', 5010)).toBe('-EBUSY');
    expect(r.result.groups[0]!.domain).toBe('dma0');
  });

  it('rejects a deferred attach of the blocked device only', () => {
    const r = run(
      card([
        { at: 5000, op: 'deferred-attach', device: F0 },
        { at: 5010, op: 'deferred-attach', device: F1 },
      ]),
      'v4',
    );
    expect(retAt(r, 'iommu_deferred_attach', 5000)).toBe('-EBUSY');
    expect(retAt(r, 'iommu_deferred_attach', 5010)).toBe('0');
  });

  it('rejects attaches during a plain reset (RESETTING counts too)', () => {
    const r = run(
      resetOnly('flr', 0, false, [
        { at: 1000, op: 'attach', group: 0, domain: 'dma1' },
        { at: 1010, op: 'deferred-attach', device: NVME },
        { at: 200_000, op: 'attach', group: 0, domain: 'dma1' },
      ]),
      'v4',
    );
    expect(retAt(r, 'iommu_attach_group', 1000)).toBe('-EBUSY');
    expect(retAt(r, 'iommu_deferred_attach', 1010)).toBe('-EBUSY');
    expect(retAt(r, 'iommu_attach_group', 200_000)).toBe('0');
  });

  // Upstream "iommu: Fix WARN_ON in __iommu_group_set_domain_nofail() due to reset" (the base seed 003
  // builds on): IOMMU_SET_DOMAIN_MUST_SUCCEED callers pass the recovery_cnt fence, blocked devices are
  // skipped, and pci_dev_reset_iommu_done() attaches them to the updated group->domain.
  const onDma1 = (extra: Step[]): Scenario =>
    oneGroupScenario(
      [dev(F0, [1792], { driver: 'ice' }), dev(F1, [1793], { driver: 'ice' })],
      [
        { at: 0, op: 'attach', group: 0, domain: 'dma1' },
        { at: 1, op: 'map', domain: 'dma1', iova: '0x10000', pages: 2 },
        { at: 10, op: 'dma', device: F0, iova: '0x10000', write: true },
        { at: 20, op: 'fault', device: F0, kind: 'atc-unresponsive' },
        { at: 30, op: 'unmap', domain: 'dma1', iova: '0x10000', pages: 2 },
        ...extra,
      ],
    );

  it('a detach during recovery (MUST_SUCCEED) passes the fence: group->domain moves, the blocked device is skipped', () => {
    const sim = simAt(onDma1([{ at: 5000, op: 'attach', group: 0, domain: 'dma0' }]), 'v4', 10_000);
    const r = sim.result();
    expect(r.groups[0]!.recoveryCnt).toBe(1);
    expect(r.calls.filter((c) => c.fn === 'iommu_detach_group').map((c) => c.ret)).toEqual(['0']);
    expect(r.groups[0]!.domain).toBe('dma0');
    expect(sim.world.k.masters[F1]!.domain).toBe('dma0');
    expect(sim.world.k.masters[F0]!.domain).toBe('__blocked');
    expect(tr(sim, 'attach.skip').map((t) => t.d.bdf)).toEqual([F0]);
    expect(tr(sim, 'attach.busy')).toEqual([]);
  });

  it('after that detach, pci_dev_reset_iommu_done() attaches the recovered device to the new group->domain', () => {
    const sim = simAt(
      onDma1([
        { at: 5000, op: 'attach', group: 0, domain: 'dma0' },
        { at: 6000, op: 'reset', device: F0, method: 'flr', result: 0 },
      ]),
      'v4',
      400_000,
    );
    const r = sim.result();
    expect(r.groups[0]!.recoveryCnt).toBe(0);
    expect(sim.world.k.masters[F0]!.domain).toBe('dma0');
    expect(r.violations).toEqual([]);
  });

  it("attaching the group's current domain during recovery returns 0 before the fence", () => {
    const r = run(card([{ at: 5000, op: 'attach', group: 0, domain: 'dma0' }]), 'v4');
    expect(r.result.groups[0]!.recoveryCnt).toBe(1);
    expect(retAt(r, 'iommu_attach_group', 5000)).toBe('0');
  });

  it('an attach over a non-default domain is -EBUSY from __iommu_attach_group(), even of the same domain', () => {
    const r = run(onDma1([{ at: 5000, op: 'attach', group: 0, domain: 'dma1' }]), 'v4');
    expect(retAt(r, 'iommu_attach_group', 5000)).toBe('-EBUSY');
    expect(tr(r, 'attach.busy').map((t) => t.d.why)).toEqual(['the group is already attached to a non-default domain']);
  });

  it('unplugging the blocked device gives its recovery_cnt back, and the group can be attached again', () => {
    const r = run(
      card([
        { at: 5000, op: 'attach', group: 0, domain: 'dma1' },
        { at: 6000, op: 'unplug', device: F0 },
        { at: 8000, op: 'attach', group: 0, domain: 'dma1' },
      ]),
      'v4',
    );
    expect(retAt(r, 'iommu_attach_group', 5000)).toBe('-EBUSY');
    expect(r.result.groups[0]!.recoveryCnt).toBe(0);
    expect(retAt(r, 'iommu_attach_group', 8000)).toBe('0');
    expect(r.result.violations).toEqual([]);
  });
});

/* ========================================================================= */
/* 9. The kernel log                                                          */
/* ========================================================================= */

// printk's "[%5lu.%06lu] " and dev_printk's "<driver> <dev_name>: " (seed 003 cover letter log, #04, #11).
describe('kernel log format', () => {
  it('prefixes every line with the dmesg timestamp "[%5lu.%06lu] " of the virtual time it was printed at', () => {
    const r = run(scenario({ steps: faultSteps() }), 'v4');
    for (const l of r.log) expect(l).toMatch(/^\[[ \d]{5}\.\d{6}\] /);
    expect(r.log[0]).toMatch(/^\[ {4}0\.000000\] /);
    const q = first(r, 'gdev.state', (d) => d.event === 'QUARANTINE')!;
    const line = r.log.find((l) => l.includes(QUARANTINED))!;
    expect(lineUs(line)).toBe(Math.floor(q.t / 1000));
    const us = r.log.map(lineUs);
    expect(us).toEqual([...us].sort((a, b) => a - b));
  });

  it('keeps the seconds right-aligned in five columns past ten seconds', () => {
    const r = run(
      scenario({ steps: [{ at: 12_345_678, op: 'reset', device: NVME, method: 'pm', result: '-EIO', durationUs: 1000 }] }),
      'v4',
    );
    const line = r.log.find((l) => l.includes(RESET_FAILED))!;
    expect(line).toMatch(/^\[ {3}12\.3466\d\d\] nvme 0000:01:00\.0: Reset failed\. Keep it blocked to protect memory$/);
  });

  it('prints SMMU messages as "arm-smmu-v3 arm-smmu-v3.0.auto: " and device messages as "<driver> <bdf>: " ("pci" when unbound)', () => {
    const r = run(
      oneGroupScenario(
        [{ bdf: NVME, sids: [256], ats: true, pasid: false } as ReturnType<typeof dev>],
        [...faultSteps(), { at: 5000, op: 'reset', device: NVME, method: 'flr', result: '-EIO' }],
      ),
      'v4',
    );
    expect(msgsWith(r, 'unexpected global error').every((m) => m.startsWith(SMMU))).toBe(true);
    expect(msgsWith(r, QUARANTINED)).toEqual([`pci ${NVME}: ${QUARANTINED}`]);
    expect(msgsWith(r, RESET_FAILED)).toEqual([`pci ${NVME}: ${RESET_FAILED}`]);
  });

  it("uses the kernel's log levels: dev_warn, dev_err, pci_info", () => {
    const levels = (r: Run, needle: string) => r.sim.out.log.filter((l) => l.text.includes(needle)).map((l) => l.level);
    const q = run(
      scenario({ steps: [...faultSteps(), { at: 5000, op: 'reset', device: NVME, method: 'flr', result: 0 }] }),
      'v4',
    );
    expect(levels(q, 'unexpected global error')).toEqual(['warn', 'warn']);
    expect(levels(q, 'CMDQ error')).toEqual(['err', 'err']);
    expect(levels(q, EIO_LINE)).toEqual(['err', 'err']);
    expect(levels(q, QUARANTINED)).toEqual(['warn']);
    expect(levels(q, UNBLOCKED)).toEqual(['info']);
    expect(levels(run(resetOnly('bus', '-ENOTTY'), 'v4'), RESET_SKIPPED)).toEqual(['warn']);
    expect(levels(run(resetOnly('flr', '-EIO'), 'v4'), RESET_FAILED)).toEqual(['err']);
  });

  // Issue 12, point 1: the seed's cover letter shows CONS 0x0302bb84 -> 88 -> 8c, four slots per
  // single-page unmap: TLBI, CMD_SYNC, ATC_INV, CMD_SYNC (arm_smmu_invs_end_batch() submits the TLB
  // invalidations before the first ATC_INV). The error is reported at the second CMD_SYNC.
  it("prints the cover letter's pair of lines for each upstream ATC timeout, CONS moving four slots per unmap", () => {
    const r = run(
      scenario({
        steps: [
          ...faultSteps(),
          { at: 3000, op: 'map', domain: 'dma0', iova: '0x40000', pages: 1 },
          { at: 3100, op: 'unmap', domain: 'dma0', iova: '0x40000', pages: 1 },
        ],
      }),
      'baseline',
    );
    expect(messages(r).slice(2)).toEqual([
      `${SMMU}unexpected global error reported (0x00000001), this could be serious`,
      `${SMMU}CMDQ error (cons 0x03000003): ATC invalidate timeout`,
      `${SMMU}unexpected global error reported (0x00000001), this could be serious`,
      `${SMMU}CMDQ error (cons 0x03000007): ATC invalidate timeout`,
    ]);
  });
});
