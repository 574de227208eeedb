/**
 * CPUs (issue 12, point 7): a kernel call runs on a CPU, a task spinning
 * on the command queue keeps it, a task that sleeps gives it up, and the
 * GERROR interrupt waits for its CPU to unmask interrupts.
 *
 * What the kernel does, in arm_smmu_cmdq_issue_cmdlist() (upstream, and
 * seed 003 #12, #15 and #16 on top of it): local_irq_save(flags) before
 * the queue space is reserved, local_irq_restore(flags) around each
 * arm_smmu_cmdq_poll_until_not_full() only, then the CMD_SYNC is polled by
 * arm_smmu_cmdq_poll_until_sync() and the function ends with
 * local_irq_restore(flags): the CMD_SYNC poll spins with interrupts masked.
 * Seed 003 #16's message: "When GERROR is affined to the CPU currently
 * running with IRQs disabled, the GERROR ISR will not run"; #15's: "the
 * GERROR ISR might have been delayed past the poll deadline".
 */
import { describe, expect, it } from 'vitest';
import type { Scenario, Step } from '../scenario/types.ts';
import { validateScenario } from '../scenario/validate.ts';
import { NVME, atcTimeoutSteps, first, lineUs, msgIndex, msgsWith, run, scenario, tr } from './behaviour-support.ts';

const POLL_US = 1_000_000;
const EIO_LINE = 'CMD_SYNC for ATC_INV timeout at prod=';

function cpus(n: number | undefined, steps: Step[]): Scenario {
  return scenario({ steps, ...(n === undefined ? {} : { kernel: { cpus: n } }) });
}

/** One unmap whose ATC_INV reaches an unresponsive device (at 30 µs). */
const ONE_TIMEOUT = atcTimeoutSteps([NVME], NVME, 30);

describe('the GERROR interrupt and a CPU polling its CMD_SYNC with interrupts masked', () => {
  it('with one CPU, v4 handles the ATC timeout from the issuer after ARM_SMMU_POLL_TIMEOUT_US; the ISR runs after local_irq_restore() and finds nothing', () => {
    const r = run(cpus(1, ONE_TIMEOUT), 'v4');
    const masked = first(r, 'irq.masked')!;
    expect(masked).toBeDefined();
    expect(masked.d.cpu).toBe(0);
    expect(masked.d.name).toBe('unmap dma0');
    // The poll gives up ARM_SMMU_POLL_TIMEOUT_US after the CMD_SYNC was published,
    // co-clears (seed 003 #15) and finds its atc_sync_timeouts bit: -EIO.
    const timeout = first(r, 'poll.timeout')!;
    const coclear = first(r, 'cmdq.coclear')!;
    const unmasked = first(r, 'irq.unmasked')!;
    const isr = first(r, 'irq.gerror')!;
    expect(timeout.t).toBeGreaterThanOrEqual(POLL_US * 1000);
    expect(masked.id).toBeLessThan(timeout.id);
    expect(timeout.id).toBeLessThan(coclear.id);
    expect(coclear.id).toBeLessThan(unmasked.id);
    expect(unmasked.id).toBeLessThan(isr.id);
    expect(unmasked.t).toBe(timeout.t);
    expect(unmasked.d.waitedNs).toBe(timeout.t - masked.t);
    // The ISR comes after the error was drained: IRQ_NONE, no "unexpected global error".
    expect(first(r, 'irq.none')!.id).toBeGreaterThan(isr.id);
    expect(msgsWith(r, 'unexpected global error')).toEqual([]);
    // The batch and then its per-StreamID retry (seed 003 #24) each wait out the poll: two -EIO lines, a second apart.
    const eio = r.log.filter((l) => l.includes(EIO_LINE)).map(lineUs);
    expect(eio).toHaveLength(2);
    expect(eio[0]).toBeGreaterThanOrEqual(POLL_US);
    expect(eio[1]! - eio[0]!).toBeGreaterThanOrEqual(POLL_US);
    expect(tr(r, 'irq.masked')).toHaveLength(2);
    expect(r.result.devices[0]!.blocked).toBe('BROKEN');
  });

  it('with one CPU, upstream (no co-clear) times out with "CMD_SYNC timeout", and only then the ISR reports the CMDQ error', () => {
    const r = run(cpus(1, ONE_TIMEOUT), 'baseline');
    const t = msgIndex(r, 'CMD_SYNC timeout at ');
    const isr = msgIndex(r, 'unexpected global error');
    expect(t).toBeGreaterThanOrEqual(0);
    expect(isr).toBeGreaterThan(t);
    expect(msgIndex(r, 'ATC invalidate timeout')).toBeGreaterThan(t);
    expect(lineUs(r.log[isr]!)).toBeGreaterThanOrEqual(POLL_US);
  });

  it('with a CPU to spare (the default), the ISR runs gerrorIrqLatencyUs after the error, during the poll', () => {
    const r = run(cpus(undefined, ONE_TIMEOUT), 'v4');
    expect(tr(r, 'irq.masked')).toEqual([]);
    expect(tr(r, 'poll.timeout')).toEqual([]);
    const isr = first(r, 'irq.gerror')!;
    expect(isr.t).toBeLessThan(2_000_000);
    // One interrupt for the batch, one for its retry.
    expect(msgsWith(r, 'unexpected global error')).toHaveLength(2);
    expect(msgsWith(r, EIO_LINE)).toHaveLength(2);
    // Two CPUs: the unmap takes CPU 1, CPU 0 stays free for the interrupt.
    const r2 = run(cpus(2, ONE_TIMEOUT), 'v4');
    expect(tr(r2, 'irq.masked')).toEqual([]);
    expect(first(r2, 'irq.gerror')!.t).toBe(isr.t);
  });
});

describe('kernel calls wait for a free CPU', () => {
  const two: Step[] = [
    { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
    { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
    { at: 20, op: 'fault', device: NVME, kind: 'atc-unresponsive' },
    { at: 30, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 1 },
    { at: 40, op: 'unmap', domain: 'dma0', iova: '0x11000', pages: 1 },
  ];

  it('a second unmap waits while the first spins on its CMD_SYNC, and runs on the CPU it gives back', () => {
    const r = run(cpus(1, two), 'v4');
    const wait = first(r, 'cpu.wait')!;
    expect(wait.t).toBe(40_000);
    expect(wait.d.cpus).toBe(1);
    const got = first(r, 'cpu.run', (d) => d.task === wait.d.task)!;
    // The first unmap returns once its CMD_SYNC poll ends (ARM_SMMU_POLL_TIMEOUT_US later).
    const firstDone = first(r, 'cmdq.sync.done', (d) => d.ret !== 0)!;
    expect(got.id).toBeGreaterThan(firstDone.id);
    expect(got.d.cpu).toBe(0);
    expect(got.d.waitedNs).toBe(got.t - 40_000);
    // Nothing of the second unmap reaches the queue before it has a CPU.
    const writes = tr(r, 'cmdq.write', (d) => d.task === wait.d.task);
    expect(writes.length).toBeGreaterThan(0);
    expect(writes[0]!.id).toBeGreaterThan(got.id);
  });

  it('with two CPUs both unmaps run at once', () => {
    const r = run(cpus(2, two), 'v4');
    expect(tr(r, 'cpu.wait')).toEqual([]);
  });

  it('a reset sleeping in its FLR gives up its CPU: an unmap on the only CPU runs at once', () => {
    const steps: Step[] = [
      { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 1 },
      { at: 5, op: 'reset', device: NVME, method: 'flr' },
      { at: 10, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 1 },
    ];
    const r = run(cpus(1, steps), 'v4');
    expect(tr(r, 'cpu.wait')).toEqual([]);
    const un = r.result.calls.find((c) => c.fn === 'iommu_unmap')!;
    expect(un.atUs).toBe(10);
    expect(un.ret).toBe('0x1000');
    // The reset wakes after its 100 ms and takes the idle CPU back to run done().
    const back = first(r, 'reset.return')!;
    expect(back.d.rc).toBe(0);
    expect(back.t).toBeGreaterThanOrEqual(100_005_000);
  });

  it('a map behind a waiting unmap waits too, so the calls keep their order', () => {
    const steps: Step[] = [
      ...two,
      { at: 50, op: 'map', domain: 'dma0', iova: '0x10000', pages: 1 },
      { at: 60, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 1 },
    ];
    const r = run(cpus(1, steps), 'v4');
    const order = r.result.calls.filter((c) => c.atUs >= 30).map((c) => `${c.fn}@${c.atUs}=${c.ret}`);
    // The map at 50 µs is not refused (-EEXIST): the unmap at 30 µs cleared the PTE first.
    expect(order).toContain('iommu_map@50=0');
    expect(order).toContain('iommu_unmap@60=0x1000');
    expect(tr(r, 'cpu.wait').map((t) => t.t)).toEqual([40_000, 50_000, 60_000]);
  });
});

describe('kernel.cpus', () => {
  it('is an integer from 1 to 4096; the error names the field', () => {
    for (const bad of [0, 2.5, 4097, '4']) {
      const v = validateScenario({ ...cpus(undefined, []), kernel: { cpus: bad } });
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.errors.map((e) => e.path)).toContain('kernel.cpus');
    }
    const ok = validateScenario(cpus(4, []));
    expect(ok.ok && ok.scenario.kernel.cpus).toBe(4);
    const def = validateScenario(cpus(undefined, []));
    expect(def.ok && def.scenario.kernel.cpus).toBe(256);
  });
});
