/**
 * The built-in scenarios: each validates, runs to the end under every preset
 * with no invariant violation, and shows the outcome its description
 * promises. The seed patch each scenario reproduces is named in its
 * description and in the describe comment here.
 */
import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS, DEFAULT_SCENARIO_ID } from '../scenario/builtins/index.ts';
import { validateScenario } from '../scenario/validate.ts';
import { ARM_SMMU_CR0, ARM_SMMU_GERROR, ARM_SMMU_GERRORN, CR0_ATSCHK } from '../hw/regs.ts';
import type { PolicySpec } from '../scenario/types.ts';
import type { TraceRecordOf } from '../trace.ts';
import {
  POLICIES,
  SMMU,
  blockedPath,
  depthPath,
  first,
  lineUs,
  messages,
  msgIndex,
  msgsWith,
  reg,
  retAt,
  rets,
  run,
  simAtNs,
  tr,
  type Run,
} from './behaviour-support.ts';
import { device } from './support.ts';

const ids = Object.keys(BUILTIN_SCENARIOS);
const cache = new Map<string, Run>();
/** Run a built-in under a policy (memoised: every run is deterministic). */
function b(id: string, policy: PolicySpec): Run {
  const key = `${id}|${JSON.stringify(policy)}`;
  let r = cache.get(key);
  if (!r) {
    r = run(BUILTIN_SCENARIOS[id]!, policy);
    cache.set(key, r);
  }
  return r;
}
const dmaAt = (r: Run, atUs: number) => r.trace.find((t): t is TraceRecordOf<'dma'> => t.kind === 'dma' && t.t === atUs * 1000);
const errorsAfter = (r: Run, us: number) => tr(r, 'cmdq.error').filter((t) => t.t > us * 1000);
const QUARANTINED = 'IOMMU has quarantined the device';
/**
 * The issuer's return for the CMD_SYNC behind the first ATC_INVs: an unmap submits its TLBI with a
 * CMD_SYNC of its own first (arm_smmu_invs_end_batch()), so the first sync.done is that one's.
 */
const atcSyncDone = (r: Run) => {
  const send = first(r, 'cmdq.write', (d) => d.op === 'ATC_INV')!;
  return tr(r, 'cmdq.sync.done').find((t) => t.id > send.id)!;
};

describe('every built-in scenario', () => {
  it('has a default and at least the 17 documented scenarios', () => {
    expect(ids).toContain(DEFAULT_SCENARIO_ID);
    expect(ids.length).toBeGreaterThanOrEqual(17);
  });

  for (const id of ids) {
    it(`${id}: validates, names its seed, and runs to the end under ${POLICIES.join(', ')} with zero violations`, () => {
      const s = BUILTIN_SCENARIOS[id]!;
      const v = validateScenario(s);
      expect(v.ok).toBe(true);
      expect(s.description ?? '').toMatch(/[Ss]eed 00[0-3]|DESIGN\.md|__arm_smmu_cmdq_skip_err/);
      for (const p of POLICIES) {
        const r = b(id, p);
        expect(r.result.violations).toEqual([]);
        expect(r.sim.nextEventNs()).toBeNull();
        expect(r.result.notes.filter((n) => n.startsWith('stopped'))).toEqual([]);
      }
    });
  }
});

// Seed 003 cover letter and #24.
describe('spam-vs-quarantine', () => {
  it('baseline: every unmap times out again, STE.EATS stays on, and a stale ATC entry corrupts a reused page', () => {
    const r = b('spam-vs-quarantine', 'baseline');
    const spam = msgsWith(r, 'ATC invalidate timeout');
    expect(spam.length).toBeGreaterThanOrEqual(3);
    for (const line of spam) {
      const i = messages(r).indexOf(line);
      expect(messages(r)[i - 1]).toBe(`${SMMU}unexpected global error reported (0x00000001), this could be serious`);
    }
    expect(device(r).steEats).toEqual([1]);
    expect(r.result.stats.corruptedPages).toBeGreaterThan(0);
    expect(tr(r, 'dma', (d) => d.outcome === 'corrupt').length).toBeGreaterThan(0);
  });

  it('v4: the first timeout is retried per StreamID, EATS cleared, ATC_INVs stop, exactly one quarantine, no corruption', () => {
    const r = b('spam-vs-quarantine', 'v4');
    expect(tr(r, 'retry.sid').map((t) => t.d.sid)).toEqual([256]);
    const q = first(r, 'quarantine.driver')!;
    expect(tr(r, 'cmdq.write', (d) => d.op === 'ATC_INV').filter((t) => t.id > q.id)).toHaveLength(0);
    expect(tr(r, 'cmdq.error').filter((t) => t.id > q.id)).toHaveLength(0);
    expect(r.result.stats.quarantines).toBe(1);
    expect(msgsWith(r, QUARANTINED)).toHaveLength(1);
    expect(device(r)).toMatchObject({ blocked: 'BROKEN', atsBroken: true, steEats: [0] });
    expect(r.result.stats.corruptedPages).toBe(0);
    expect(r.result.stats.staleAtcWrites).toBe(0);
    expect(msgsWith(r, 'ATC invalidate timeout').length).toBeLessThan(
      msgsWith(b('spam-vs-quarantine', 'baseline'), 'ATC invalidate timeout').length,
    );
  });
});

// Seed 003 #19-#24 and the review of #19.
describe('shared-batch', () => {
  // Issue 12, point 1: the TLBI is synced before the ATC_INVs (arm_smmu_invs_end_batch(): "ATS must
  // be after a sync of the S1/S2 invalidations"), then the three ATC_INVs share one batch.
  it('syncs the TLBI first, then puts the three ATC_INVs of one unmap in one batch behind one CMD_SYNC', () => {
    const r = b('shared-batch', 'v4');
    const first6 = tr(r, 'cmdq.write')
      .slice(0, 6)
      .map((t) => t.d.op);
    expect(first6).toEqual(['TLBI_NH_VA', 'CMD_SYNC', 'ATC_INV', 'ATC_INV', 'ATC_INV', 'CMD_SYNC']);
  });

  it('v4 retries one ATC_INV per StreamID and quarantines only 0000:02:00.0', () => {
    const r = b('shared-batch', 'v4');
    expect(tr(r, 'retry.sid').map((t) => t.d.sid)).toEqual([256, 512, 768]);
    expect(r.result.devices.map((d) => [d.bdf, d.atsBroken, d.blocked])).toEqual([
      ['0000:01:00.0', false, 'NO'],
      ['0000:02:00.0', true, 'BROKEN'],
      ['0000:03:00.0', false, 'NO'],
    ]);
  });

  it('driver-only (no retry): all three lose ATS', () => {
    const r = b('shared-batch', 'driver-only');
    expect(r.result.devices.map((d) => [d.atsBroken, d.steEats[0]])).toEqual([
      [true, 0],
      [true, 0],
      [true, 0],
    ]);
  });
});

// Seed 003 #04, #05, #11, #18.
describe('recovery-flr', () => {
  it('v4: done(pdev, 0) lifts the quarantine; ATS works again and invalidations complete', () => {
    const r = b('recovery-flr', 'v4');
    expect(r.result.calls.find((c) => c.fn === 'pci_dev_reset_iommu_done')!.args).toEqual(['0000:01:00.0', '0']);
    expect(first(r, 'unquarantine.driver')).toBeDefined();
    expect(tr(r, 'attach.end', (d) => d.domain === 'dma0').pop()!.t).toBeGreaterThan(10_000_000);
    expect(device(r)).toMatchObject({ blocked: 'NO', atsBroken: false, steEats: [1] });
    expect(r.result.groups[0]!.recoveryCnt).toBe(0);
    expect(msgsWith(r, 'Device is unblocked after successful reset')).toEqual([
      'nvme 0000:01:00.0: Device is unblocked after successful reset',
    ]);
    expect(dmaAt(r, 200_010)!.d).toMatchObject({ outcome: 'ok', via: 'translated' });
    expect(errorsAfter(r, 10_000)).toHaveLength(0);
    expect(tr(r, 'atc.inv.complete').filter((t) => t.t > 200_100_000).length).toBeGreaterThan(0);
  });
});

// Seed 001 and seed 003 #04. The FLR is asserted but the function never becomes ready: pci_dev_wait()
// gives up after 65535 ms and pcie_flr() returns -ENOTTY after prepare (what the PCI core returns; the
// built-in used to give the FLR an -ETIMEDOUT it cannot return).
describe('failed-reset', () => {
  const AFTER = 65_700_000;
  it('baseline: done() unblocks after the failed FLR; the next unmap times out and a DMA corrupts a reused page', () => {
    const r = b('failed-reset', 'baseline');
    expect(msgsWith(r, 'not ready 65535ms after FLR; giving up')).toHaveLength(1);
    expect(device(r)).toMatchObject({ blocked: 'NO', steEats: [1] });
    expect(errorsAfter(r, AFTER).length).toBeGreaterThan(0);
    expect(r.result.stats.corruptedPages).toBeGreaterThan(0);
  });

  it('v4: keeps the device blocked, though done() can only say "Reset may have been skipped"; nothing is corrupted', () => {
    const r = b('failed-reset', 'v4');
    expect(rets(r, 'pcie_reset_flr')).toEqual(['-ENOTTY']);
    expect(msgsWith(r, 'Reset may have been skipped. Keep it blocked conservatively')).toHaveLength(1);
    expect(device(r).blocked).not.toBe('NO');
    expect(errorsAfter(r, AFTER)).toHaveLength(0);
    expect(r.result.stats.corruptedPages).toBe(0);
    expect(retAt(r, 'iommu_attach_group', AFTER + 20_000)).toBe('-EBUSY');
  });
});

// Seed 003 #04 (the -ENOTTY FIXME).
describe('reset-enotty', () => {
  it('v4 warns "Reset may have been skipped. Keep it blocked conservatively", keeps it RESET_FAILED until a good reset', () => {
    const r = b('reset-enotty', 'v4');
    expect(msgsWith(r, 'Reset may have been skipped. Keep it blocked conservatively')).toHaveLength(1);
    expect(blockedPath(r, '0000:01:00.0')).toEqual(['RESETTING', 'RESET_FAILED', 'NO']);
    expect(rets(r, 'pci_reset_bus_function')).toEqual(['-ENOTTY']);
    expect(retAt(r, 'iommu_attach_group', 200_000)).toBe('-EBUSY');
    expect(retAt(r, 'iommu_attach_group', 500_000)).toBe('0');
  });

  it('baseline lets the attach through right after the skipped reset', () => {
    expect(retAt(b('reset-enotty', 'baseline'), 'iommu_attach_group', 200_000)).toBe('0');
  });
});

// Seed 000.
describe('nested-cxl-reset', () => {
  it('with the fix, reset_depth goes 0 -> 1 -> 2 -> 1 -> 0, only the outermost done() unblocks, an attach meanwhile gets -EBUSY', () => {
    for (const p of POLICIES) {
      const r = b('nested-cxl-reset', p);
      expect(depthPath(r, '0000:0a:00.0')).toEqual([1, 2, 1, 0]);
      const dones = tr(r, 'gdev.state', (d) => d.event === 'RESET_DONE').map((t) => t.d.to);
      expect(dones).toEqual(['RESETTING', 'NO']);
      expect(retAt(r, 'iommu_attach_group', 50_000)).toBe('-EBUSY');
      expect(dmaAt(r, 200_000)!.d.outcome).toBe('ok');
    }
  });

  it('without it (nestedResetFix off) the inner prepare WARNs and fails with -EBUSY, and the whole reset fails', () => {
    const r = b('nested-cxl-reset', { preset: 'v4', nestedResetFix: false });
    expect(rets(r, 'pci_dev_reset_iommu_prepare')).toEqual(['0', '-EBUSY']);
    expect(msgsWith(r, 'WARNING:').length).toBeGreaterThan(0);
    expect(rets(r, 'cxl_reset_bus_function')).toEqual(['-EBUSY']);
  });
});

// Seed 000 (Kevin Tian's point) and seed 003 #02.
describe('quirk-reset-timeout', () => {
  it('the inner FLR only moves reset_depth; the outer done(-ETIMEDOUT) keeps the device blocked', () => {
    for (const p of ['v4', 'driver-only'] as const) {
      const r = b('quirk-reset-timeout', p);
      expect(depthPath(r, '0000:05:00.1')).toEqual([1, 2, 1, 0]);
      expect(tr(r, 'gdev.state', (d) => d.event === 'RESET_DONE').map((t) => t.d.to)).toEqual(['RESETTING', 'RESET_FAILED']);
      // During the firmware wait, after the inner FLR finished, the device is still blocked.
      expect(dmaAt(r, 150_000)!.d.outcome).not.toBe('ok');
      expect(retAt(r, 'iommu_attach_group', 400_100)).toBe('-EBUSY');
      expect(device(r, '0000:05:00.1').blocked).toBe('RESET_FAILED');
    }
  });
});

// Seed 000 and seed 002.
describe('attach-during-recovery', () => {
  it('v4: group, PASID and deferred attaches get -EBUSY while recovering and succeed after a good reset', () => {
    const r = b('attach-during-recovery', 'v4');
    expect(retAt(r, 'iommu_attach_group', 3000)).toBe('-EBUSY');
    expect(retAt(r, 'iommu_attach_device_pasid', 3010)).toBe('-EBUSY');
    expect(retAt(r, 'iommu_deferred_attach', 3020)).toBe('-EBUSY');
    expect(retAt(r, 'iommu_attach_group', 200_000)).toBe('0');
    expect(retAt(r, 'iommu_attach_device_pasid', 200_010)).toBe('0');
  });
});

// Seed 003 #04 and #11.
describe('unplug-quarantined', () => {
  it('v4: function 0 quarantined blocks attaches; hot-removing it gives recovery_cnt back and the group attaches again', () => {
    const r = b('unplug-quarantined', 'v4');
    expect(blockedPath(r, '0000:07:00.0')).toContain('BROKEN');
    expect(retAt(r, 'iommu_attach_group', 5000)).toBe('-EBUSY');
    expect(retAt(r, 'iommu_release_device', 6000)).toBe('0');
    expect(r.result.groups[0]!.recoveryCnt).toBe(0);
    expect(retAt(r, 'iommu_attach_group', 8000)).toBe('0');
  });
});

// Seed 003 #11.
describe('stale-report', () => {
  it('v4: the worker skips after the racing reset, the device stays usable, a late pre-reset report quarantines it', () => {
    const r = b('stale-report', 'v4');
    expect(tr(r, 'worker.skip')).toHaveLength(1);
    expect(dmaAt(r, 2000)!.d.outcome).toBe('ok');
    expect(msgsWith(r, QUARANTINED)).toHaveLength(1);
    expect(first(r, 'gdev.state', (d) => d.event === 'QUARANTINE')!.t).toBeGreaterThan(3_000_000);
    expect(device(r).blocked).toBe('BROKEN');
    expect(dmaAt(r, 5000)!.d.outcome).not.toBe('ok');
  });
});

// Seed 003 #14 and #15.
describe('late-gerror-isr', () => {
  it('the GERROR ISR runs 1.5 s after the error, later than ARM_SMMU_POLL_TIMEOUT_US', () => {
    const r = b('late-gerror-isr', 'baseline');
    const err = first(r, 'cmdq.error')!;
    expect(first(r, 'irq.gerror')!.t - err.t).toBe(1_500_000_000);
  });

  it('without co-clearing the issuer reports a plain "CMD_SYNC timeout" and nothing is quarantined', () => {
    for (const p of ['baseline', { preset: 'v4', coClear: false }] as const) {
      const r = b('late-gerror-isr', p);
      expect(msgsWith(r, 'CMD_SYNC timeout at ')).toHaveLength(1);
      expect(msgsWith(r, 'CMD_SYNC for ATC_INV timeout')).toEqual([]);
      expect(atcSyncDone(r).d.ret).toBe(-110);
      expect(device(r)).toMatchObject({ blocked: 'NO', atsBroken: false });
    }
  });

  it('v4 drains the pending CMDQ_ERR itself, finds its atc_sync_timeouts bit and returns -EIO', () => {
    const r = b('late-gerror-isr', 'v4');
    expect(first(r, 'cmdq.coclear')!.t).toBeLessThan(first(r, 'irq.gerror')!.t);
    expect(atcSyncDone(r).d.ret).toBe(-5);
    expect(msgsWith(r, 'CMD_SYNC for ATC_INV timeout at prod=0x00000003').length).toBeGreaterThan(0);
    expect(device(r)).toMatchObject({ blocked: 'BROKEN', atsBroken: true });
  });
});

// __arm_smmu_cmdq_skip_err() (context of seed 003 #12).
describe('illegal-command', () => {
  it('stops with CERROR_ILL, prints the command, overwrites it with a CMD_SYNC, and the queue moves on', () => {
    for (const p of POLICIES) {
      const r = b('illegal-command', p);
      expect(tr(r, 'cmdq.error').map((t) => t.d.cerror)).toEqual(['CERROR_ILL']);
      const i = msgIndex(r, 'skipping command in error state:');
      expect(messages(r).slice(i + 1, i + 3)).toEqual([`${SMMU}\t0x000000000000007f`, `${SMMU}\t0x0000000000000000`]);
      expect(tr(r, 'cmdq.rewrite')).toHaveLength(1);
      expect(retAt(r, 'iommu_unmap', 100)).toBe('0x2000');
      expect(r.result.stats.cmdqErrors).toBe(1);
    }
  });
});

// Seed 003 #13.
describe('service-failure-mode', () => {
  it('v4 acks, prints the SFM message, disables the SMMU and skips the CMDQ error; upstream handles it too', () => {
    const v4 = b('service-failure-mode', 'v4');
    const i = msgIndex(v4, 'unexpected global error reported (0x00000101)');
    expect(messages(v4)[i + 1]).toBe(`${SMMU}device has entered Service Failure Mode!`);
    expect(msgsWith(v4, 'CMDQ error')).toEqual([]);
    expect(reg(v4.sim, ARM_SMMU_GERROR)).toBe(reg(v4.sim, ARM_SMMU_GERRORN));
    expect(reg(v4.sim, ARM_SMMU_CR0)).toBe(0);
    const base = b('service-failure-mode', 'baseline');
    expect(msgsWith(base, 'CMDQ error (cons 0x03000003): ATC invalidate timeout')).toHaveLength(1);
  });

  it("with the SMMU disabled all DMA aborts and the issuer's poll ends in a timeout", () => {
    for (const p of POLICIES) {
      const r = b('service-failure-mode', p);
      expect(dmaAt(r, 3000)!.d.outcome).toBe('blocked');
      expect(msgsWith(r, 'CMD_SYNC timeout at ')).toHaveLength(1);
    }
  });
});

// Seed 003 #01.
describe('probe-reset', () => {
  it('before #01 a probe runs prepare/done and a DMA meanwhile is aborted; with #01 the probe leaves the IOMMU alone', () => {
    const base = b('probe-reset', 'baseline');
    expect(rets(base, 'pci_dev_reset_iommu_prepare')).toEqual(['0']);
    expect(dmaAt(base, 101)!.d.outcome).toBe('blocked');
    const v4 = b('probe-reset', 'v4');
    expect(rets(v4, 'pci_dev_reset_iommu_prepare')).toEqual([]);
    expect(dmaAt(v4, 101)!.d.outcome).toBe('ok');
    for (const r of [base, v4]) expect(dmaAt(r, 500)!.d.outcome).toBe('ok');
  });
});

// DESIGN.md what-if (CR0.ATSCHK), seed 003 #24 and #11.
describe('atschk-off', () => {
  it('v4 clears STE.EATS at once, but with ATSCHK = 0 a stale write still corrupts a reused page until the worker blocks the device', () => {
    const r = b('atschk-off', 'v4');
    expect(reg(r.sim, ARM_SMMU_CR0) & CR0_ATSCHK).toBe(0);
    const q = first(r, 'quarantine.driver')!;
    expect(q.t).toBeLessThan(3_000_000);
    expect(dmaAt(r, 3000)!.d.outcome).toBe('corrupt');
    expect(r.result.stats.corruptedPages).toBeGreaterThanOrEqual(1);
    const worker = first(r, 'gdev.state', (d) => d.event === 'QUARANTINE')!;
    expect(worker.t).toBeGreaterThan(3_000_000);
    expect(worker.t).toBeLessThan(8_000_000);
    expect(['corrupt', 'stale', 'ok']).not.toContain(dmaAt(r, 8000)!.d.outcome);
  });

  // The reviewer's design (seed 003 thread, the summary of it in the #11 replies, step 3): the driver's
  // quarantine calls pci_disable_ats(), so the endpoint never uses the stale entry again.
  it('driver-only disables ATS at the endpoint in its quarantine: no stale write reaches memory; baseline corrupts', () => {
    const d = b('atschk-off', 'driver-only');
    expect(d.result.stats.quarantines).toBe(1);
    expect(d.result.stats.staleAtcWrites).toBe(0);
    expect(d.result.stats.corruptedPages).toBe(0);
    expect(dmaAt(d, 3000)!.d.via).toBe('untranslated');
    const base = b('atschk-off', 'baseline');
    expect(base.result.stats.corruptedPages).toBeGreaterThanOrEqual(1);
  });
});

// Seed 003 #12 (the FIXME in arm_smmu_cmdq_issue_cmdlist).
describe('poll-timeout-before-atc-timeout', () => {
  it('the poll gives up first with nothing in GERROR and no bit set: -ETIMEDOUT, and even v4 corrupts memory', () => {
    for (const p of POLICIES) {
      const r = b('poll-timeout-before-atc-timeout', p);
      const done = atcSyncDone(r);
      expect(done.d.ret).toBe(-110);
      expect(first(r, 'cmdq.error')!.t).toBeGreaterThan(done.t);
      const sim = simAtNs(BUILTIN_SCENARIOS['poll-timeout-before-atc-timeout']!, p, done.t);
      expect(reg(sim, ARM_SMMU_GERROR) ^ reg(sim, ARM_SMMU_GERRORN)).toBe(0);
      expect(tr(r, 'atc_sync_timeouts.set').every((t) => t.t > done.t)).toBe(true);
      expect(msgsWith(r, 'CMD_SYNC for ATC_INV timeout')).toEqual([]);
      expect(r.result.stats.corruptedPages).toBeGreaterThanOrEqual(1);
      expect(device(r).atsBroken).toBe(false);
    }
  });
});

// Seed 003 #18 and #23.
describe('attach-races-quarantine', () => {
  const attachEats = (r: Run) =>
    tr(r, 'ste.write', (d) => typeof d.why === 'string' && d.why.includes('dma1')).map((t) => t.d.eats);

  it('v4: the attach before the worker runs is allowed, but the fence keeps EATS off and nothing is corrupted', () => {
    const r = b('attach-races-quarantine', 'v4');
    expect(retAt(r, 'iommu_attach_group', 2100)).toBe('0');
    expect(first(r, 'quarantine.driver')!.t).toBeLessThan(2_100_000);
    // The target (no ATS: arm_smmu_ats_supported() says no) equals the live STE: nothing is written.
    expect(attachEats(r)).toEqual([]);
    expect(r.result.devices.every((d) => d.steEats.every((e) => e === 0) || d.blocked === 'NO')).toBe(true);
    expect(r.result.stats.corruptedPages).toBe(0);
  });

  it('with atsBrokenFence off the attach turns EATS back on and the stale entries corrupt memory', () => {
    const r = b('attach-races-quarantine', { preset: 'v4', atsBrokenFence: false });
    expect(attachEats(r)).toEqual([1]);
    expect(r.result.stats.corruptedPages).toBeGreaterThan(0);
  });
});

// Seed 003 #15 (and the window #16 describes): arm_smmu_cmdq_issue_cmdlist() polls its CMD_SYNC between
// local_irq_save() and local_irq_restore(); with both CPUs polling, the GERROR interrupt (CPU 0) waits for a
// poll to give up.
describe('few-cpus', () => {
  it('v4: the interrupt is masked on CPU 0, the third unmap waits for a CPU, co-clear quarantines after ARM_SMMU_POLL_TIMEOUT_US', () => {
    const r = b('few-cpus', 'v4');
    const masked = first(r, 'irq.masked')!;
    expect(masked.d.cpu).toBe(0);
    expect(first(r, 'cpu.wait')!.t).toBe(50_000);
    const eio = msgIndex(r, 'CMD_SYNC for ATC_INV timeout at prod=');
    expect(lineUs(r.log[eio]!)).toBeGreaterThanOrEqual(1_000_000);
    expect(first(r, 'cmdq.coclear')!.t).toBeGreaterThanOrEqual(1_000_000_000);
    expect(msgsWith(r, QUARANTINED)).toHaveLength(1);
    expect(device(r).blocked).toBe('BROKEN');
  });

  it('baseline: "CMD_SYNC timeout" first, the ISR only once a poll has given up', () => {
    const r = b('few-cpus', 'baseline');
    const t = msgIndex(r, 'CMD_SYNC timeout at ');
    const isr = msgIndex(r, 'unexpected global error');
    expect(t).toBeGreaterThanOrEqual(0);
    expect(isr).toBeGreaterThan(t);
    expect(lineUs(r.log[isr]!)).toBeGreaterThanOrEqual(1_000_000);
  });

  it('with a CPU to spare the ISR runs right after the error and nothing waits', () => {
    const { kernel: _k, ...rest } = BUILTIN_SCENARIOS['few-cpus']!;
    const r = run(rest, 'v4');
    expect(tr(r, 'irq.masked')).toEqual([]);
    expect(tr(r, 'cpu.wait')).toEqual([]);
    expect(first(r, 'irq.gerror')!.t).toBeLessThan(2_000_000);
  });
});

// Seed 003 #04 on pci_dev_acpi_reset(): "ACPI _RST failed" returns -ENOTTY after prepare, which done()
// cannot tell from a skipped reset.
describe('acpi-rst-failed', () => {
  it('v4: "ACPI _RST failed", done(-ENOTTY) keeps the device blocked, an attach gets -EBUSY, a working _RST unblocks it', () => {
    const r = b('acpi-rst-failed', 'v4');
    const m = messages(r);
    const failed = m.indexOf('nvme 0000:01:00.0: ACPI _RST failed');
    expect(failed).toBeGreaterThanOrEqual(0);
    expect(m[failed + 1]).toBe('nvme 0000:01:00.0: Reset may have been skipped. Keep it blocked conservatively');
    expect(retAt(r, 'pci_dev_acpi_reset', 10)).toBe('-ENOTTY');
    expect(r.result.calls.find((c) => c.fn === 'pci_dev_reset_iommu_done')!.args[1]).toBe('-ENOTTY');
    expect(blockedPath(r)).toEqual(['RESETTING', 'RESET_FAILED', 'NO']);
    expect(retAt(r, 'iommu_attach_group', 20000)).toBe('-EBUSY');
    expect(msgsWith(r, 'Device is unblocked after successful reset')).toHaveLength(1);
  });

  it('baseline: the failed _RST unblocks the device and the attach goes through', () => {
    const r = b('acpi-rst-failed', 'baseline');
    expect(msgsWith(r, 'ACPI _RST failed')).toHaveLength(1);
    expect(retAt(r, 'iommu_attach_group', 20000)).toBe('0');
  });
});

// dev_*_ratelimited() (include/linux/dev_printk.h) defines its state static at each call site; seed 003 #04's
// done() has two such sites. lib/ratelimit.c: 10 lines per 5 s, "N callbacks suppressed" at the next interval.
describe('ratelimit', () => {
  it('ten "Reset may have been skipped" lines for twelve devices, then "2 callbacks suppressed" when the next interval starts', () => {
    const r = b('ratelimit', 'v4');
    const bdf = (i: number) => `0000:${(i + 1).toString(16).padStart(2, '0')}:00.0`;
    const skipped = 'Reset may have been skipped. Keep it blocked conservatively';
    const lines = messages(r).filter((m) => m.includes(skipped) || m.includes('callbacks suppressed'));
    expect(lines).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `nvme ${bdf(i)}: ${skipped}`),
      'pci_dev_reset_iommu_done: 2 callbacks suppressed',
      `nvme ${bdf(12)}: ${skipped}`,
    ]);
    // "ACPI _RST failed" is a plain pci_warn(): every device prints it.
    expect(msgsWith(r, 'ACPI _RST failed')).toHaveLength(13);
    expect(r.result.devices.every((d) => d.blocked === 'RESET_FAILED')).toBe(true);
  });
});

// Seed 003, __iommu_group_block_device(): "Stage PASID domains at blocking_domain while retaining
// pasid_array" — iommu_remove_dev_pasid() for each PASID; done() after a good reset sets them again.
describe('pasid-quarantine', () => {
  it('v4: the quarantine removes PASID 1 (its DMA aborts), done() after the FLR restores it (its DMA works)', () => {
    const r = b('pasid-quarantine', 'v4');
    const q = first(r, 'gdev.state', (d) => d.event === 'QUARANTINE')!;
    const removed = first(r, 'pasid.remove')!;
    expect(removed.d.pasid).toBe(1);
    expect(removed.id).toBeLessThan(q.id);
    expect(dmaResultAt(r, 5000)).toBe('blocked');
    const restored = tr(r, 'pasid.set').filter((t) => t.t > removed.t);
    expect(restored.map((t) => [t.d.pasid, t.d.domain])).toEqual([[1, 'sva1']]);
    const done = first(r, 'gdev.state', (d) => d.event === 'RESET_DONE')!;
    expect(restored[0]!.id).toBeLessThan(done.id);
    expect(dmaResultAt(r, 200000)).toBe('ok');
  });

  it('baseline: nothing is quarantined, so the DMA on PASID 1 goes through at 5 ms', () => {
    const r = b('pasid-quarantine', 'baseline');
    expect(tr(r, 'pasid.remove').every((t) => t.t > 5_000_000)).toBe(true);
    expect(dmaResultAt(r, 5000)).toBe('ok');
  });
});

function dmaResultAt(r: Run, atUs: number): string | undefined {
  return r.trace.find((t): t is TraceRecordOf<'dma.result'> => t.kind === 'dma.result' && t.t === atUs * 1000)?.d.outcome;
}

// Seed 001 (prepare/done are no-ops for a device without ATS) and seed 003 #11 (the quarantine blocks the
// broken group_device only, and counts it in recovery_cnt).
describe('non-ats-function', () => {
  const F0 = '0000:03:00.0';
  const F1 = '0000:03:00.1';
  it('v4: function 0 is quarantined, function 1 (no ATS) keeps its DMA and its FLR leaves it unblocked; the group attach gets -EBUSY', () => {
    const r = b('non-ats-function', 'v4');
    expect(device(r, F0).blocked).toBe('BROKEN');
    expect(dmaResultAt(r, 5000)).toBe('ok');
    expect(dmaResultAt(r, 5010)).toBe('blocked');
    expect(tr(r, 'gdev.state', (d) => d.bdf === F1)).toEqual([]);
    expect(tr(r, 'recovery_cnt').map((t) => t.d.value)).toEqual([1]);
    expect(retAt(r, 'iommu_attach_group', 7000)).toBe('-EBUSY');
    expect(device(r, F1).blocked).toBe('NO');
  });

  it('baseline: nothing is quarantined and function 0 keeps using its stale ATC', () => {
    const r = b('non-ats-function', 'baseline');
    expect(device(r, F0).blocked).toBe('NO');
    expect(dmaResultAt(r, 5010)).toBe('ok');
    expect(retAt(r, 'iommu_attach_group', 7000)).toBe('0');
  });
});

// Seed 003 #01: __pci_dev_specific_reset() with PCI_RESET_PROBE no longer calls prepare/done.
describe('probe-quirk-reset', () => {
  it('before #01 the probe of the device-specific reset blocks the device and a DMA meanwhile aborts; with #01 it does not', () => {
    const base = b('probe-quirk-reset', 'baseline');
    expect(rets(base, 'pci_dev_reset_iommu_prepare')).toEqual(['0']);
    expect(rets(base, 'pci_dev_specific_reset')).toEqual(['0']);
    expect(dmaAt(base, 101)!.d.outcome).toBe('blocked');
    const v4 = b('probe-quirk-reset', 'v4');
    expect(rets(v4, 'pci_dev_reset_iommu_prepare')).toEqual([]);
    expect(rets(v4, 'pci_dev_specific_reset')).toEqual(['0']);
    expect(dmaAt(v4, 101)!.d.outcome).toBe('ok');
    // The probe resets nothing: no "Reset dev timeout" and the ATC is not emptied by a reset.
    expect(msgsWith(v4, 'Reset dev timeout')).toEqual([]);
    expect(tr(v4, 'reset.begin')).toEqual([]);
  });
});

// Seed 003 #03/#04/#11: the ATC invalidation of prepare()'s block times out; the report made from inside
// prepare() leaves broken_pending, and the worker escalates RESETTING to BROKEN (enum gdev_blocked severity).
describe('timeout-in-prepare', () => {
  it('v4: the report comes from inside prepare(), prepare ends RESETTING with broken_pending, the worker escalates to BROKEN, done(0) lifts it', () => {
    const r = b('timeout-in-prepare', 'v4');
    const report = first(r, 'report_broken')!;
    const prep = first(r, 'gdev.state', (d) => d.event === 'PREPARE')!;
    expect(report.id).toBeLessThan(prep.id);
    expect(report.t).toBeGreaterThan(30_000);
    expect(prep.d.to).toBe('RESETTING');
    expect(prep.d.brokenPending).toBe(true);
    const q = first(r, 'gdev.state', (d) => d.event === 'QUARANTINE')!;
    expect([q.d.from, q.d.to]).toEqual(['RESETTING', 'BROKEN']);
    // The report (blocked still NO, broken_pending set) comes first.
    expect(blockedPath(r)).toEqual(['NO', 'RESETTING', 'BROKEN', 'NO']);
    expect(msgsWith(r, QUARANTINED)).toHaveLength(1);
    expect(msgsWith(r, 'Device is unblocked after successful reset')).toHaveLength(1);
  });

  it('baseline: the timeout is only logged; the reset unblocks the device', () => {
    const r = b('timeout-in-prepare', 'baseline');
    expect(msgsWith(r, 'ATC invalidate timeout')).toHaveLength(1);
    expect(tr(r, 'report_broken')).toEqual([]);
    expect(blockedPath(r)).toEqual(['RESETTING', 'NO']);
  });
});

// Seed 003 #04 (done() keeps a failed reset blocked and leaves broken_pending alone), #10 (__iommu_group_block_device()
// on a blocked device: "Escalate the severity", gdev->blocked = max()), #11 (the worker) and #24 (the retry's report).
describe('reset-failed-to-broken', () => {
  it('v4: the report lands while the bus reset waits, the skipped reset leaves RESET_FAILED, the worker escalates it to BROKEN', () => {
    const r = b('reset-failed-to-broken', 'v4');
    // The report comes from the unmap's retry, not from the reset's prepare().
    const report = first(r, 'report_broken')!;
    const prep = first(r, 'gdev.state', (d) => d.event === 'PREPARE')!;
    expect(report.id).toBeLessThan(prep.id);
    expect(prep.t).toBeGreaterThan(first(r, 'lock.wait', (d) => d.lock.startsWith('spin:ats_broken_lock'))!.t);
    expect(first(r, 'reset.skipped')).toBeDefined();
    expect(rets(r, 'pci_reset_bus_function')).toEqual(['-ENOTTY']);
    // done(-ENOTTY) keeps it blocked and broken_pending stays set for the worker.
    const failed = first(r, 'gdev.state', (d) => d.event === 'RESET_DONE')!;
    expect([failed.d.from, failed.d.to, failed.d.brokenPending]).toEqual(['RESETTING', 'RESET_FAILED', true]);
    const q = first(r, 'gdev.state', (d) => d.event === 'QUARANTINE')!;
    expect([q.d.from, q.d.to, q.d.brokenPending]).toEqual(['RESET_FAILED', 'BROKEN', false]);
    expect(q.id).toBeGreaterThan(failed.id);
    expect(msgIndex(r, QUARANTINED)).toBeGreaterThan(msgIndex(r, 'Reset may have been skipped'));
    // The escalation attaches nothing and does not count the device twice.
    expect(tr(r, 'attach.begin', (d) => d.domain === '__blocked')).toHaveLength(1);
    expect(tr(r, 'recovery_cnt').map((t) => t.d.value)).toEqual([1, 0]);
    expect(blockedPath(r)).toEqual(['NO', 'RESETTING', 'RESET_FAILED', 'BROKEN', 'NO']);
    expect(dmaAt(r, 20000)!.d.outcome).toBe('blocked');
    expect(msgsWith(r, 'Device is unblocked after successful reset')).toHaveLength(1);
    expect(dmaAt(r, 200010)!.d.outcome).toBe('ok');
    expect(r.result.stats.corruptedPages).toBe(0);
  });

  it('baseline: nothing is reported, the skipped reset unblocks the device and its DMA corrupts the reused page', () => {
    const r = b('reset-failed-to-broken', 'baseline');
    expect(tr(r, 'report_broken')).toEqual([]);
    expect(first(r, 'reset.skipped')).toBeDefined();
    expect(blockedPath(r)).toEqual(['RESETTING', 'NO', 'RESETTING', 'NO']);
    expect(dmaAt(r, 20000)!.d.outcome).toBe('corrupt');
  });
});

// Seed 003 #11: broken_pending is cleared by pci_dev_reset_iommu_done() only after a successful reset (after
// reset_device_done); #04: a failed reset returns before that, so a pending report survives and the worker applies it.
describe('broken-pending', () => {
  it('v4: the report from inside prepare() stays pending through done(-ENOTTY), and the worker then escalates RESET_FAILED to BROKEN', () => {
    const r = b('broken-pending', 'v4');
    const report = first(r, 'report_broken')!;
    const prep = first(r, 'gdev.state', (d) => d.event === 'PREPARE')!;
    expect(report.id).toBeLessThan(prep.id);
    expect([prep.d.to, prep.d.brokenPending]).toEqual(['RESETTING', true]);
    expect(retAt(r, 'pci_dev_acpi_reset', 30)).toBe('-ENOTTY');
    const failed = first(r, 'gdev.state', (d) => d.event === 'RESET_DONE')!;
    expect([failed.d.from, failed.d.to, failed.d.brokenPending]).toEqual(['RESETTING', 'RESET_FAILED', true]);
    // done() returned before reset_device_done and the clear: neither ran for the failed reset.
    expect(tr(r, 'gdev.state', (d) => d.event === 'CLEAR_BROKEN_PENDING' && d.from === 'RESETTING')).toEqual([]);
    expect(tr(r, 'unquarantine.driver').every((t) => t.t > 20_000_000)).toBe(true);
    // The worker runs workerLatencyUs after the report, after done(), and finds the report still pending.
    const worker = first(r, 'task.start', (d) => d.fn === 'iommu_group_broken_worker')!;
    expect(worker.t).toBe(report.t + 1_000_000);
    expect(worker.id).toBeGreaterThan(failed.id);
    expect(tr(r, 'worker.skip')).toEqual([]);
    const q = first(r, 'gdev.state', (d) => d.event === 'QUARANTINE')!;
    expect([q.d.from, q.d.to, q.d.brokenPending]).toEqual(['RESET_FAILED', 'BROKEN', false]);
    expect(msgsWith(r, QUARANTINED)).toHaveLength(1);
    expect(tr(r, 'recovery_cnt').map((t) => t.d.value)).toEqual([1, 0]);
    expect(dmaAt(r, 10000)!.d.outcome).toBe('blocked');
    expect(blockedPath(r)).toEqual(['NO', 'RESETTING', 'RESET_FAILED', 'BROKEN', 'NO']);
    expect(dmaAt(r, 40000)!.d.outcome).toBe('ok');
  });

  it('v4 with a _RST that works: done(0) clears broken_pending and the worker skips', () => {
    const s = structuredClone(BUILTIN_SCENARIOS['broken-pending']!);
    const rst = s.steps![3]!;
    expect(rst.op === 'reset' && rst.outcome).toBe('rst-failed');
    if (rst.op === 'reset') delete rst.outcome;
    const r = run(s, 'v4');
    const done = first(r, 'gdev.state', (d) => d.event === 'RESET_DONE')!;
    expect([done.d.to, done.d.brokenPending]).toEqual(['NO', false]);
    expect(first(r, 'worker.skip')!.d.why).toBe('broken_pending cleared by a successful reset');
    expect(msgsWith(r, QUARANTINED)).toEqual([]);
    expect(dmaAt(r, 10000)!.d.outcome).toBe('ok');
  });

  it('baseline: the timeouts are only logged, and done() unblocks the device after the failed _RST', () => {
    const r = b('broken-pending', 'baseline');
    expect(tr(r, 'report_broken')).toEqual([]);
    expect(msgsWith(r, 'ACPI _RST failed')).toHaveLength(1);
    expect(blockedPath(r)).toEqual(['RESETTING', 'NO', 'RESETTING', 'NO']);
    expect(dmaAt(r, 10000)!.d.outcome).toBe('ok');
  });
});

// Seed 003 #12, arm_smmu_cmdq_issue_cmdlist(): clear_bit(Q_IDX(&llq, prod), cmdq->atc_sync_timeouts) before the
// CMD_SYNC's slot becomes visible, so a bit the ISR set for an issuer that had already given up (the FIXME) cannot
// turn a later CMD_SYNC in the same slot into -EIO after the ring wraps.
describe('stale-sync-bit-wrap', () => {
  const atcSyncs = (r: Run) => tr(r, 'cmdq.write', (d) => d.op === 'CMD_SYNC' && d.slot === 3);
  it('v4: the bit set after the poll gave up stays until the ring wraps; the CMD_SYNC reusing slot 3 clears it first and returns 0', () => {
    const r = b('stale-sync-bit-wrap', 'v4');
    const timedOut = first(r, 'cmdq.sync.done', (d) => d.ret !== 0)!;
    expect([timedOut.d.prod, timedOut.d.ret]).toEqual(['0x00000003', -110]);
    const set = tr(r, 'atc_sync_timeouts.set');
    expect(set.map((t) => t.d.slot)).toEqual([3]);
    expect(set[0]!.t).toBeGreaterThan(timedOut.t);
    // Slot 3 holds a CMD_SYNC twice: the first unmap's, then (after the wrap) the third unmap's.
    const [, reuse] = atcSyncs(r);
    expect(reuse!.t).toBe(2_500_000_100);
    const clear = first(r, 'atc_sync_timeouts.clear')!;
    expect(clear.d.slot).toBe(3);
    expect(clear.t).toBe(reuse!.t);
    expect(clear.id).toBeGreaterThan(set[0]!.id);
    // Nobody tested the bit: the issuer of slot 3's first CMD_SYNC had returned -ETIMEDOUT.
    expect(tr(r, 'atc_sync_timeouts.test')).toEqual([]);
    const done = tr(r, 'cmdq.sync.done', (d) => d.prod === '0x0000000b');
    expect(done.map((t) => t.d.ret)).toEqual([0]);
    expect(msgsWith(r, 'CMD_SYNC for ATC_INV timeout')).toEqual([]);
    expect(tr(r, 'retry.begin')).toEqual([]);
    expect(tr(r, 'report_broken')).toEqual([]);
    expect(rets(r, 'iommu_unmap')).toEqual(['0x2000', '0x1000', '0x1000']);
  });

  it('baseline: no bitmap, so nothing is set or cleared; the third unmap returns 0 as well', () => {
    const r = b('stale-sync-bit-wrap', 'baseline');
    expect(tr(r, 'atc_sync_timeouts.set')).toEqual([]);
    expect(tr(r, 'atc_sync_timeouts.clear')).toEqual([]);
    expect(atcSyncs(r)).toHaveLength(2);
    expect(tr(r, 'cmdq.sync.done', (d) => d.prod === '0x0000000b').map((t) => t.d.ret)).toEqual([0]);
  });
});

// Seed 003 #24, arm_smmu_cmdq_batch_retry(): "Only need to retry with one ATC_INV per Stream ID (device)"
// (the SID of the last retried command is skipped) and "A previous retry on a sibling SID may have already
// disabled ATS across all the STEs owned by this master's SIDs. Skip it." (master->ats_broken).
describe('retry-multi-sid', () => {
  const A = '0000:01:00.0';
  const B = '0000:02:00.0';
  it('v4: four ATC_INVs fail together; SID 256 is retried once, SID 512 times out, SID 513 is never retried', () => {
    const r = b('retry-multi-sid', 'v4');
    expect(tr(r, 'retry.begin').map((t) => t.d.commands)).toEqual([4]);
    expect(tr(r, 'retry.sid').map((t) => [t.d.sid, t.d.bdf])).toEqual([
      [256, A],
      [512, B],
    ]);
    // Two retries, each an ATC_INV + CMD_SYNC: 4 ATC_INVs in the batch, 2 in the retries.
    expect(r.result.stats.atcInvIssued).toBe(6);
    // disable_ats clears EATS on both of the master's SIDs with one batch of two CFGI_STEs.
    const report = first(r, 'report_broken')!;
    const cfgi = tr(r, 'cmdq.write', (d) => d.op === 'CFGI_STE').filter((t) => t.id < report.id);
    expect(cfgi).toHaveLength(2);
    expect(device(r, B)).toMatchObject({ blocked: 'BROKEN', atsBroken: true, steEats: [0, 0] });
    expect(device(r, A)).toMatchObject({ blocked: 'NO', atsBroken: false, steEats: [1] });
    expect(msgsWith(r, QUARANTINED)).toEqual([`nvme ${B}: ${QUARANTINED}`]);
    expect(dmaResultAt(r, 5010)).toBe('ok');
    expect(dmaResultAt(r, 5011)).toBe('blocked');
  });

  it('driver-only: no retry, both masters in the batch lose ATS', () => {
    const r = b('retry-multi-sid', 'driver-only');
    expect(tr(r, 'retry.sid')).toEqual([]);
    expect(tr(r, 'blame.all').map((t) => t.d.masters)).toEqual([[A, B]]);
    expect(device(r, A)).toMatchObject({ atsBroken: true, steEats: [0] });
    expect(device(r, B)).toMatchObject({ atsBroken: true, steEats: [0, 0] });
  });

  it('baseline: the timeouts are only logged; both keep ATS', () => {
    const r = b('retry-multi-sid', 'baseline');
    expect(tr(r, 'retry.sid')).toEqual([]);
    expect(msgsWith(r, 'ATC invalidate timeout')).toHaveLength(2);
    expect(device(r, B)).toMatchObject({ blocked: 'NO', atsBroken: false, steEats: [1, 1] });
  });
});

// Seed 003 #19 (has_ats), #20 (arm_smmu_cmdq_batch_issue(), which both the flush of a full batch and the
// submit go through) and #24: "Force sync for ATS-bearing batches so the timeout is caught here, not at a
// later unrelated batch's CMD_SYNC", and the retry of the commands of the batch that returned -EIO.
// Without the forced sync the timeout surfaces at the last sub-batch's CMD_SYNC, whose retry covers only
// 0000:41:00.0 and 0000:42:00.0 and never finds 0000:05:00.0.
describe('full-ats-batch', () => {
  const BAD = '0000:05:00.0';
  const drive = (i: number) => `0000:${i.toString(16).padStart(2, '0')}:00.0`;
  /** The ops the unmap writes before `beforeId` (a trace record id), in slot order. */
  const unmapOps = (r: Run, beforeId = Infinity) => {
    const task = first(r, 'cmdq.write', (d) => d.op === 'ATC_INV')!.d.task;
    return tr(r, 'cmdq.write', (d) => d.task === task)
      .filter((t) => t.id < beforeId)
      .map((t) => t.d.op);
  };
  const atcInvs = (n: number) => Array.from({ length: n }, () => 'ATC_INV');

  it('v4: the full batch of 64 ATC_INVs gets a CMD_SYNC of its own, which times out and is retried alone', () => {
    const r = b('full-ats-batch', 'v4');
    const begin = first(r, 'retry.begin')!;
    expect(unmapOps(r, begin.id)).toEqual(['TLBI_NH_VA', 'CMD_SYNC', ...atcInvs(64), 'CMD_SYNC']);
    expect(tr(r, 'retry.begin').map((t) => t.d.commands)).toEqual([64]);
    // One retry per StreamID of the sub-batch: drives 1..64; 0x41 and 0x42 are not in it.
    const retried = tr(r, 'retry.sid').map((t) => t.d.bdf);
    expect(retried).toEqual(Array.from({ length: 64 }, (_, i) => drive(i + 1)));
    // After the retry: the last two ATC_INVs with their own CMD_SYNC, which completes.
    const lastRetry = tr(r, 'retry.sid').at(-1)!;
    const tail = unmapOps(r).slice(unmapOps(r, lastRetry.id).length + 2);
    expect(tail).toEqual(['ATC_INV', 'ATC_INV', 'CMD_SYNC']);
    const syncs = tr(r, 'cmdq.sync.done', (d) => d.task === first(r, 'cmdq.write', (w) => w.op === 'ATC_INV')!.d.task);
    expect(syncs.at(-1)!.d.ret).toBe(0);
    expect(tr(r, 'cmdq.error')).toHaveLength(2);
    expect(msgsWith(r, QUARANTINED)).toEqual([`nvme ${BAD}: ${QUARANTINED}`]);
    for (let i = 1; i <= 66; i++) {
      const d = device(r, drive(i));
      expect(d.atsBroken, drive(i)).toBe(drive(i) === BAD);
      expect(d.blocked, drive(i)).toBe(drive(i) === BAD ? 'BROKEN' : 'NO');
    }
  });

  it('baseline: the full batch is issued without a CMD_SYNC; the timeout shows only at the one after all 66', () => {
    const r = b('full-ats-batch', 'baseline');
    expect(unmapOps(r)).toEqual(['TLBI_NH_VA', 'CMD_SYNC', ...atcInvs(66), 'CMD_SYNC']);
    expect(tr(r, 'cmdq.error').map((t) => t.d.slot)).toEqual([68]);
    expect(tr(r, 'retry.begin')).toEqual([]);
    expect(device(r, BAD).blocked).toBe('NO');
  });

  it('driver-only: the 64 drives of the failed sub-batch all lose ATS; the two after it keep it', () => {
    const r = b('full-ats-batch', 'driver-only');
    const blamed = tr(r, 'blame.all').map((t) => t.d.masters);
    expect(blamed).toEqual([Array.from({ length: 64 }, (_, i) => drive(i + 1))]);
    expect(device(r, drive(64)).steEats).toEqual([0]);
    expect(device(r, drive(65)).steEats).toEqual([1]);
    expect(device(r, drive(66)).steEats).toEqual([1]);
  });
});

// Seed 003 #16: "If the CMDQ is nearly full, it's possible that the HW is stalled by an unhandled
// GERROR_CMDQ_ERR. Thus give cmdq_err_handler a chance before each poll"; #15's arm_smmu_cmdq_err_handler():
// "Toggle only the CMDQ_ERR bit; other bits are left for the ISR."
describe('coclear-no-space', () => {
  const EIO_SYNC = (r: Run) => first(r, 'cmdq.sync.done', (d) => d.ret === -5)!;
  it('v4: the fourth unmap finds no space and drains the pending CMDQ_ERR itself, 1.9 ms before the late interrupt', () => {
    const r = b('coclear-no-space', 'v4');
    const full = first(r, 'cmdq.full')!;
    expect(full.t).toBe(1_100_000);
    expect(full.d).toMatchObject({ need: 2, prod: '0x00000086', cons: '0x00000007' });
    const coclear = first(r, 'cmdq.coclear')!;
    expect(coclear.t).toBe(full.t);
    expect(coclear.id).toBeGreaterThan(full.id);
    // CMDQ_ERR and the EVTQ_ABT_ERR of the lost event record are both active; only CMDQ_ERR is toggled.
    expect(coclear.d).toEqual({ gerror: '0x00000005', gerrorn: '0x00000000' });
    const ack = first(r, 'gerrorn.write')!;
    expect(ack.id).toBeGreaterThan(coclear.id);
    expect(ack.d).toEqual({ value: '0x00000001', toggled: '0x00000001', gerror: '0x00000005' });
    // The issuer, not the ISR, printed the CMDQ error: no "unexpected global error" line before it.
    const m = messages(r);
    const err = msgIndex(r, 'CMDQ error (cons 0x03000007): ATC invalidate timeout');
    expect(m.slice(0, err).some((x) => x.includes('unexpected global error'))).toBe(false);
    const irq = first(r, 'irq.gerror')!;
    expect(irq.t).toBe(3_030_350);
    // The late ISR still finds EVTQ_ABT_ERR (left to it), with the retry's CMDQ_ERR.
    const isr = msgIndex(r, 'unexpected global error reported (0x00000005)');
    expect(isr).toBeGreaterThan(err);
    expect(m[isr + 1]).toBe(`${SMMU}EVTQ write aborted -- events may have been lost`);
    // The first unmap's CMD_SYNC is consumed with its atc_sync_timeouts bit set: -EIO right after the co-clear.
    expect(EIO_SYNC(r).t).toBe(1_100_050);
    expect(first(r, 'retry.sid')!.t).toBeLessThan(irq.t);
    expect(msgsWith(r, QUARANTINED)).toHaveLength(1);
    expect(lineUs(r.log.find((l) => l.includes(QUARANTINED))!)).toBe(3_040);
  });

  it('v4 without co-clear: the queue stays stopped until the late interrupt; the quarantine comes at about 6 ms', () => {
    const r = b('coclear-no-space', { preset: 'v4', coClear: false });
    expect(first(r, 'cmdq.full')!.t).toBe(1_100_000);
    expect(tr(r, 'cmdq.coclear')).toEqual([]);
    expect(EIO_SYNC(r).t).toBeGreaterThan(first(r, 'irq.gerror')!.t);
    expect(lineUs(r.log.find((l) => l.includes(QUARANTINED))!)).toBeGreaterThan(6_000);
  });

  it('baseline: the fourth unmap waits for the interrupt; the timeout is only logged', () => {
    const r = b('coclear-no-space', 'baseline');
    const full = first(r, 'cmdq.full')!;
    expect(tr(r, 'cmdq.coclear')).toEqual([]);
    const fourth = tr(r, 'cmdq.sync.done', (d) => d.task === full.d.task);
    expect(fourth[0]!.t).toBeGreaterThan(first(r, 'irq.gerror')!.t);
    // The ISR handles both causes at once.
    expect(msgsWith(r, 'unexpected global error reported (0x00000005)')).toHaveLength(1);
    expect(msgsWith(r, 'EVTQ write aborted')).toHaveLength(1);
    expect(device(r, '0000:01:00.0').blocked).toBe('NO');
  });
});
