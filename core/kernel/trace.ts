/**
 * The kernel model's trace events (the arm-smmu-v3 driver, the IOMMU core,
 * the PCI core, the scheduler and printk), their words, and the typed
 * emit()/note() the kernel records them with.
 */
import { emit as record, note as recordNote, type LogLevel, type SimCtx } from '../sim/context.ts';
import type { TraceWordsOf } from '../sim/trace.ts';
import type { Blocked, GdevEvent } from '../machines/groupDevice.machine.ts';
import type { DmaOutcome } from '../pci/trace.ts';
import { errnoString, type ResetMethod, type Step } from '../scenario/types.ts';

export interface KernelTrace {
  /** A scenario step runs. */
  step: { index: number; op: Step['op']; step: Step };
  /** A kernel task starts in its first function. */
  'task.start': { task: number; name: string; context: 'task' | 'hardirq' | 'kworker'; fn: string };
  /** A task waits for a lock another task holds. */
  'lock.wait': { task: number; name: string; lock: string; owner: number };
  /** The GERROR interrupt is taken: the ISR runs. */
  'irq.gerror': Record<string, never>;
  /** A task is ready to run but every CPU is taken: it waits for one. */
  'cpu.wait': { task: number; name: string; cpus: number };
  /** A task waiting for a CPU gets one (waitedNs: since it became ready). */
  'cpu.run': { task: number; name: string; cpu: number; waitedNs: number };
  /** The GERROR interrupt cannot be taken: its CPU runs a task with interrupts masked. */
  'irq.masked': { irq: 'gerror'; cpu: number; task: number; name: string; why: string };
  /** Its CPU unmasks interrupts (or goes idle): the waiting interrupt is taken. */
  'irq.unmasked': { irq: 'gerror'; cpu: number; waitedNs: number };
  /** A poll of CMDQ_CONS gives up after ARM_SMMU_POLL_TIMEOUT_US. */
  'poll.timeout': { task: number; name: string; cons: number };
  /** A kernel log line (dev: the device it names, "smmu" for the SMMU; warn: the WARN_ON it belongs to). */
  log: { level: LogLevel; text: string; dev?: string; warn?: string };
  /** A WARN_ON() fires. */
  warn_on: { func: string; cond: string };
  /** A kernel API call made by a step returns. */
  call: { fn: string; args: string[]; ret: string };
  /** What a scenario's DMA came to. */
  'dma.result': { bdf: string; outcome: DmaOutcome; detail: string };
  /** A group_device's machine takes an event (blocked, reset_depth, broken_pending after it). */
  'gdev.state': {
    bdf: string;
    event: GdevEvent['type'];
    ok?: boolean;
    from: Blocked;
    to: Blocked;
    resetDepth: number;
    brokenPending: boolean;
  };
  /** A group's recovery_cnt changes. */
  recovery_cnt: { group: number; value: number };
  /** iommu_report_device_broken(). */
  report_broken: { bdf: string; found: boolean };
  /** The broken worker finds nothing left to do. */
  'worker.skip': { bdf: string; why: string };
  /** An attach is refused with -EBUSY. */
  'attach.busy': { group?: number; domain?: string; pasid?: number; bdf?: string; recoveryCnt?: number; why: string };
  /** A group is attached to a domain. */
  'group.domain': { group: number; domain: string };
  /** A must-succeed set_domain skips a blocked device: done() attaches it to group->domain later. */
  'attach.skip': { group: number; bdf: string; domain: string };
  /** A device is unplugged. */
  'device.gone': { bdf: string };
  /** A group_device leaves its group. */
  'gdev.remove': { bdf: string; group: number; blocked: Blocked };
  /** iommu_map() / iommu_unmap(). */
  map: { domain: string; iova: number; pages: number; pfns: number[] };
  unmap: { domain: string; iova: number; pages: number; pfns: number[] };
  /** Unmapped pages freed (and reused by the kernel at once). */
  'pages.free': { domain: string; pfns: number[] };
  /** The GERROR ISR marks a CMD_SYNC's slot in atc_sync_timeouts (seed 003 #12). */
  'atc_sync_timeouts.set': { slot: number };
  /** The issuer finds its slot's atc_sync_timeouts bit. */
  'atc_sync_timeouts.test': { slot: number; set: boolean };
  /** An issuer clears a stale atc_sync_timeouts bit left in its CMD_SYNC's slot before publishing it (seed 003 #12). */
  'atc_sync_timeouts.clear': { slot: number };
  /** The ISR replaces an illegal command with a CMD_SYNC. */
  'cmdq.rewrite': { slot: number; op: string; why: string };
  /** The issuer drains a pending CMDQ_ERR itself (seed 003 #15, #16). */
  'cmdq.coclear': { gerror: string; gerrorn: string };
  /** The queue has no room for a batch. */
  'cmdq.full': { task: number; need: number; prod: string; cons: string };
  /** The driver writes a command into a slot. */
  'cmdq.write': { slot: number; op: string; task: number };
  /** A CMD_SYNC's poll returns. */
  'cmdq.sync.done': { task: number; prod: string; ret: number };
  /** A batch failed with -EIO: retry one ATC_INV per StreamID (seed 003 #24). */
  'retry.begin': { commands: number };
  /** A retried StreamID times out again: its master is the broken one. */
  'retry.sid': { sid: number; bdf: string };
  /** The reviewer's design: every ATS master of the failed batch is broken. */
  'blame.all': { masters: string[] };
  /** The driver writes an STE. */
  'ste.write': { sid: number; bdf: string; config?: number; eats: number; v?: number; step?: string; why: string };
  /** ats_broken masks EATS in an STE being written (seed 003 #23). */
  'ste.mask_eats': { sid: number; bdf: string };
  'ats.enable': { bdf: string };
  'ats.disable': { bdf: string; why?: string };
  /** arm_smmu_master_disable_ats(): ats_broken set, EATS cleared. */
  'quarantine.driver': { bdf: string };
  /** arm_smmu_reset_device_done(): ats_broken cleared. */
  'unquarantine.driver': { bdf: string };
  /** A GERROR interrupt with nothing active. */
  'irq.none': { gerror: string; gerrorn: string };
  'attach.begin': { bdf: string; domain: string; from: string; ats: boolean };
  'attach.end': { bdf: string; domain: string };
  /** No ATC_INV for an ats_broken master (seed 003 #18). */
  'atc_inv.skip': { bdf: string; sid?: number; why: string };
  'pasid.set': { bdf: string; pasid: number; domain: string };
  'pasid.remove': { bdf: string; pasid: number };
  'master.release': { bdf: string };
  /** pci_reset_function() with a method, and its return. */
  'reset.call': { bdf: string; method: ResetMethod; probe: boolean };
  'reset.return': { bdf: string; method: ResetMethod; rc: number };
  /** The function is in reset (it ignores invalidations) until reset.end. */
  'reset.begin': { bdf: string; durationUs: number };
  'reset.end': { bdf: string; result: number };
  /** A bus reset does nothing after prepare (pci_parent_bus_reset() returns -ENOTTY). */
  'reset.skipped': { bdf: string; why: string };
}

/** Record a kernel event (see KernelTrace); it becomes the cause of what follows. */
export function emit<K extends keyof KernelTrace>(c: SimCtx, kind: K, d: KernelTrace[K], cause?: number): number {
  return record(c, kind, d, cause);
}

/** Record a kernel event as a side note (the current cause stays). */
export function note<K extends keyof KernelTrace>(c: SimCtx, kind: K, d: KernelTrace[K], cause?: number): number {
  return recordNote(c, kind, d, cause);
}

const hex = (v: number): string => `0x${v.toString(16)}`;
const usWords = (ns: number): string => `${Math.round(ns) / 1000} µs`;

function stepWords(d: KernelTrace['step']): string {
  const rest = Object.entries(d.step)
    .filter(([k]) => k !== 'at' && k !== 'op')
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return `scenario step ${d.index}: ${d.op} ${rest.join(' ')}`;
}

function busyWords(d: KernelTrace['attach.busy']): string {
  const what = d.group !== undefined ? `group ${d.group}` : String(d.bdf);
  return `attach ${what}${d.pasid !== undefined ? ` PASID ${d.pasid}` : ''} → -EBUSY (${d.why})`;
}

export const KERNEL_WORDS: TraceWordsOf<KernelTrace> = {
  step: { layer: 'step', describe: stepWords, detail: true },
  'task.start': { layer: 'kernel', describe: (d) => `${d.name} starts in ${d.fn}()`, detail: true },
  'lock.wait': { layer: 'kernel', describe: (d) => `${d.name} waits for ${d.lock}` },
  'irq.gerror': { layer: 'hw', describe: () => 'GERROR interrupt: arm_smmu_gerror_handler() runs' },
  'cpu.wait': { layer: 'kernel', describe: (d) => `${d.name} is ready but all ${d.cpus} CPUs are taken: it waits for one` },
  'cpu.run': {
    layer: 'kernel',
    describe: (d) => `${d.name} gets CPU ${d.cpu} after waiting ${usWords(d.waitedNs)}`,
  },
  'irq.masked': {
    layer: 'kernel',
    describe: (d) => `GERROR interrupt held back: CPU ${d.cpu} runs ${d.name} with interrupts masked (${d.why})`,
    mark: (d) => ({ kind: 'state', label: `GERROR IRQ masked on CPU ${d.cpu}` }),
  },
  'irq.unmasked': {
    layer: 'kernel',
    describe: (d) => `CPU ${d.cpu} takes the GERROR interrupt, ${usWords(d.waitedNs)} after it was raised`,
  },
  'poll.timeout': {
    layer: 'kernel',
    describe: (d) =>
      `${d.name}: poll timed out after ARM_SMMU_POLL_TIMEOUT_US (CMDQ_CONS ${'0x' + (d.cons >>> 0).toString(16).padStart(8, '0')})`,
  },
  log: { layer: 'log', describe: (d) => d.text },
  warn_on: { layer: 'bad', describe: (d) => `WARN_ON(${d.cond}) in ${d.func}` },
  call: { layer: 'core', describe: (d) => `${d.fn}(${d.args.join(', ')}) = ${d.ret}`, detail: true },
  'dma.result': {
    layer: 'pci',
    describe: (d) => `${d.bdf} DMA: ${d.outcome}${d.detail ? ` (${d.detail})` : ''}`,
    detail: true,
  },
  'gdev.state': {
    layer: 'core',
    describe: (d) =>
      `group_device ${d.bdf} gets ${d.event}${d.ok !== undefined ? `(ok=${d.ok})` : ''}: blocked ${d.from === d.to ? `stays ${d.to}` : `${d.from} → ${d.to}`} (reset_depth ${d.resetDepth}${d.brokenPending ? ', broken_pending' : ''})`,
    mark: (d) => (d.from !== d.to ? { kind: 'state', label: `${d.bdf}: ${d.from} → ${d.to}` } : null),
  },
  recovery_cnt: { layer: 'core', describe: (d) => `group ${d.group}: recovery_cnt = ${d.value}` },
  report_broken: {
    layer: 'core',
    describe: (d) =>
      d.found
        ? `iommu_report_device_broken(${d.bdf}): broken_pending, worker queued`
        : `iommu_report_device_broken(${d.bdf}): device not found`,
  },
  'worker.skip': { layer: 'core', describe: (d) => `worker skips ${d.bdf}: ${d.why}` },
  'attach.busy': { layer: 'core', describe: busyWords },
  'group.domain': { layer: 'core', describe: (d) => `group ${d.group} attached to ${d.domain}` },
  'attach.skip': {
    layer: 'core',
    describe: (d) =>
      `group ${d.group}: ${d.bdf} is blocked, left on the blocking domain (pci_dev_reset_iommu_done() attaches it to ${d.domain})`,
  },
  'device.gone': { layer: 'core', describe: (d) => `${d.bdf} unplugged` },
  'gdev.remove': { layer: 'core', describe: (d) => `group_device ${d.bdf} removed from group ${d.group} (was ${d.blocked})` },
  map: { layer: 'kernel', describe: (d) => `iommu_map(${d.domain}, ${hex(d.iova)}, ${d.pages} pages)` },
  unmap: { layer: 'kernel', describe: (d) => `iommu_unmap(${d.domain}, ${hex(d.iova)}, ${d.pages} pages): invalidate` },
  'pages.free': { layer: 'kernel', describe: (d) => `pages ${d.pfns.join(', ')} freed and reused by the kernel` },
  'atc_sync_timeouts.set': { layer: 'kernel', describe: (d) => `ISR sets atc_sync_timeouts bit for slot ${d.slot}` },
  'atc_sync_timeouts.test': {
    layer: 'kernel',
    describe: (d) => `issuer finds its atc_sync_timeouts bit for slot ${d.slot}: -EIO`,
  },
  'atc_sync_timeouts.clear': {
    layer: 'kernel',
    describe: (d) => `issuer clears the stale atc_sync_timeouts bit of slot ${d.slot} before its CMD_SYNC there becomes visible`,
  },
  'cmdq.rewrite': { layer: 'kernel', describe: (d) => `ISR overwrites slot ${d.slot} with ${d.op} (${d.why})` },
  'cmdq.coclear': {
    layer: 'kernel',
    describe: (d) => `issuer drains the pending CMDQ_ERR itself (GERROR ${d.gerror}, GERRORN ${d.gerrorn})`,
  },
  'cmdq.full': { layer: 'kernel', describe: (d) => `CMDQ full: needs ${d.need} slots (prod ${d.prod}, cons ${d.cons})` },
  'cmdq.write': { layer: 'kernel', describe: (d) => `driver writes ${d.op} into slot ${d.slot}`, detail: true },
  'cmdq.sync.done': { layer: 'hw', describe: (d) => `CMD_SYNC at prod ${d.prod} returns ${errnoString(d.ret)}` },
  'retry.begin': {
    layer: 'kernel',
    describe: (d) => `batch of ${d.commands} commands failed with -EIO: retry one ATC_INV per StreamID`,
  },
  'retry.sid': {
    layer: 'kernel',
    describe: (d) => `retry for SID ${hex(d.sid)} (${d.bdf}) times out: this is the broken master`,
  },
  'blame.all': {
    layer: 'kernel',
    describe: (d) => `no retry: every ATS master in the batch is treated as broken (${d.masters.join(', ')})`,
  },
  'ste.write': {
    layer: 'kernel',
    describe: (d) =>
      `driver writes STE for SID ${hex(d.sid)}${d.step ? ` (${d.step})` : ''}: ${d.v === 0 ? 'V=0' : `EATS=${d.eats}`}${d.why ? ` (${d.why})` : ''}`,
  },
  'ste.mask_eats': { layer: 'kernel', describe: (d) => `ats_broken masks EATS in the STE for SID ${hex(d.sid)}` },
  'ats.enable': { layer: 'kernel', describe: (d) => `${d.bdf}: pci_enable_ats()` },
  'ats.disable': { layer: 'kernel', describe: (d) => `${d.bdf}: pci_disable_ats()${d.why ? ` (${d.why})` : ''}` },
  'quarantine.driver': {
    layer: 'kernel',
    describe: (d) => `arm_smmu_master_disable_ats(): ${d.bdf} ats_broken = true, STE.EATS cleared`,
    mark: (d) => ({ kind: 'state', label: `${d.bdf}: ATS disabled (ats_broken)` }),
  },
  'unquarantine.driver': { layer: 'kernel', describe: (d) => `arm_smmu_reset_device_done(): ${d.bdf} ats_broken cleared` },
  'irq.none': {
    layer: 'kernel',
    describe: (d) => `GERROR interrupt with nothing active (GERROR ${d.gerror} = GERRORN ${d.gerrorn}): IRQ_NONE`,
  },
  'attach.begin': { layer: 'core', describe: (d) => `arm_smmu_attach_dev(${d.bdf}, ${d.domain})${d.ats ? ' with ATS' : ''}` },
  'attach.end': { layer: 'core', describe: (d) => `${d.bdf} attached to ${d.domain}` },
  'atc_inv.skip': { layer: 'kernel', describe: (d) => `no ATC_INV for ${d.bdf} (${d.why})` },
  'pasid.set': { layer: 'kernel', describe: (d) => `${d.bdf} PASID ${d.pasid} → ${d.domain}` },
  'pasid.remove': { layer: 'kernel', describe: (d) => `${d.bdf} PASID ${d.pasid} removed` },
  'master.release': { layer: 'kernel', describe: (d) => `arm_smmu_release_device(${d.bdf})` },
  'reset.call': { layer: 'kernel', describe: (d) => `pci_reset_function(${d.bdf}) by ${d.method}${d.probe ? ' (probe)' : ''}` },
  'reset.return': { layer: 'kernel', describe: (d) => `reset of ${d.bdf} by ${d.method} returns ${errnoString(d.rc)}` },
  'reset.begin': { layer: 'pci', describe: (d) => `${d.bdf} is being reset (${d.durationUs} µs)` },
  'reset.end': { layer: 'pci', describe: (d) => `${d.bdf} reset ends: ${errnoString(d.result)}` },
  'reset.skipped': { layer: 'pci', describe: (d) => `no reset of ${d.bdf}: ${d.why} → -ENOTTY after prepare` },
};
