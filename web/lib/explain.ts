/**
 * Words for trace records, and the causal chain behind one: every record
 * carries the id of the record that led to it, so "why is this device
 * BROKEN?" is the walk from its state change back through the worker, the
 * report, the retry, the -EIO, the ISR, the GERROR toggle and the CMD_SYNC
 * that timed out, to the step that started it.
 */
import { GERROR_BITS, errnoString, type TraceRecord } from '../../core/index.ts';

const s = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const rc = (v: unknown): string => (typeof v === 'number' ? errnoString(v) : s(v));
const gerrorName = (mask: unknown): string => {
  const m = Number(mask);
  const names = GERROR_BITS.filter((b) => (m >>> b.bit) & 1).map((b) => b.name);
  return names.length ? names.join('|') : `0x${m.toString(16)}`;
};
const hex32 = (v: unknown): string => (typeof v === 'number' ? '0x' + (v >>> 0).toString(16).padStart(8, '0') : s(v));
const addr = (v: unknown): string => (typeof v === 'number' ? '0x' + v.toString(16) : s(v));

/** Which view a record belongs to (for its colour in the chain). */
export function layerOf(kind: string): 'step' | 'hw' | 'pci' | 'kernel' | 'core' | 'log' | 'bad' {
  if (kind === 'step') return 'step';
  if (kind === 'violation' || kind === 'warn_on') return 'bad';
  if (kind === 'log') return 'log';
  if (/^(cmdq\.(consume|error|sync)|gerror|gerrorn|atc\.inv\.(send|complete|timeout)|evtq|smmu|ste\.cfgi|reg\.)/.test(kind)) return 'hw';
  if (/^(atc\.inv\.(recv|ignored|ur)|atc\.fill|dma|fault\.inject|endpoint|reset\.(begin|end))/.test(kind)) return 'pci';
  if (/^(gdev|recovery_cnt|report_broken|worker|group|attach|device\.gone|call)/.test(kind)) return 'core';
  return 'kernel';
}

/** One line saying what a trace record is, in the kernel's and the spec's words. */
export function describeRecord(r: TraceRecord): string {
  const d = r.d;
  switch (r.kind) {
    case 'step': {
      const st = d.step as Record<string, unknown>;
      const rest = Object.entries(st).filter(([k]) => k !== 'at' && k !== 'op').map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : s(v)}`);
      return `scenario step ${s(d.index)}: ${s(d.op)} ${rest.join(' ')}`;
    }
    case 'log': return s(d.text);
    case 'task.start': return `${s(d.name)} starts in ${s(d.fn)}()`;
    case 'lock.wait': return `${s(d.name)} waits for ${s(d.lock)}`;
    case 'poll.timeout': return `${s(d.name)}: poll timed out after ARM_SMMU_POLL_TIMEOUT_US (CMDQ_CONS ${hex32(d.cons)})`;
    case 'cmdq.write': return `driver writes ${s(d.op)} into slot ${s(d.slot)}`;
    case 'cmdq.prod': return `driver publishes CMDQ_PROD = ${s(d.prod)}`;
    case 'cmdq.full': return `CMDQ full: needs ${s(d.need)} slots (prod ${s(d.prod)}, cons ${s(d.cons)})`;
    case 'cmdq.consume': return `SMMU consumes ${s(d.op)} in slot ${s(d.slot)} (CONS → ${s(d.cons)})`;
    case 'cmdq.sync.wait': return `SMMU holds CMD_SYNC in slot ${s(d.slot)} until earlier ATC_INVs complete`;
    case 'cmdq.error': return `SMMU stops at slot ${s(d.slot)}: CMDQ_CONS.ERR = ${s(d.cerror)} (CONS ${s(d.cons)})`;
    case 'cmdq.sync.done': return `CMD_SYNC at prod ${s(d.prod)} returns ${rc(d.ret)}`;
    case 'cmdq.rewrite': return `ISR overwrites slot ${s(d.slot)} with ${s(d.op)} (${s(d.why)})`;
    case 'cmdq.coclear': return `issuer drains the pending CMDQ_ERR itself (GERROR ${s(d.gerror)}, GERRORN ${s(d.gerrorn)})`;
    case 'gerror.toggle': return `SMMU toggles GERROR.${gerrorName(d.bit)} (GERROR ${s(d.gerror)} ≠ GERRORN ${s(d.gerrorn)}): interrupt`;
    case 'gerrorn.write': return `driver writes GERRORN = ${s(d.value)} (acknowledges ${s(d.toggled)})`;
    case 'irq.gerror': return 'GERROR interrupt: arm_smmu_gerror_handler() runs';
    case 'irq.none': return `GERROR interrupt with nothing active (GERROR ${s(d.gerror)} = GERRORN ${s(d.gerrorn)}): IRQ_NONE`;
    case 'atc_sync_timeouts.set': return `ISR sets atc_sync_timeouts bit for slot ${s(d.slot)}`;
    case 'atc_sync_timeouts.test': return `issuer finds its atc_sync_timeouts bit for slot ${s(d.slot)}: -EIO`;
    case 'atc.inv.send': return `SMMU sends ATC invalidation #${s(d.req)} to SID 0x${Number(d.sid).toString(16)}`;
    case 'atc.inv.recv': return `${s(d.bdf)} purges its ATC and will complete #${s(d.req)}`;
    case 'atc.inv.ignored': return `${s(d.bdf)} does not answer ATC invalidation #${s(d.req)} (${s(d.why)})`;
    case 'atc.inv.ur': return `ATC invalidation #${s(d.req)} gets Unsupported Request (${s(d.why)})`;
    case 'atc.purge': return `${s(d.bdf)} drops ${s(d.removed)} ATC entr${d.removed === 1 ? 'y' : 'ies'} for invalidation #${s(d.req)}`;
    case 'atc.inv.late': return `${s(d.bdf)} finally purges for invalidation #${s(d.req)}, after the SMMU gave up on it`;
    case 'atc.inv.complete': return `ATC invalidation #${s(d.req)} completes`;
    case 'atc.inv.timeout': return `ATC invalidation #${s(d.req)} to SID 0x${Number(d.sid).toString(16)} times out`;
    case 'atc.fill': return `${s(d.bdf)} caches a translation: IOVA page 0x${Number(d.ipfn).toString(16)} → page ${s(d.pfn)}`;
    case 'dma': {
      const how = d.outcome === 'corrupt' ? `CORRUPTS page ${s(d.pfn)} (now owned by someone else)` : d.outcome === 'blocked' ? `is blocked (${s(d.detail)})` : d.outcome === 'fault' ? `faults (${s(d.detail)})` : `ok${d.pfn !== undefined ? ` → page ${s(d.pfn)}` : ''}${d.stale ? ' through a stale ATC entry' : ''}`;
      return `${s(d.bdf)} DMA ${d.write ? 'write' : 'read'} ${addr(d.iova)} ${how}`;
    }
    case 'dma.result': return `${s(d.bdf)} DMA: ${s(d.outcome)}${d.detail ? ` (${s(d.detail)})` : ''}`;
    case 'fault.inject': return `${s(d.bdf)} now ${d.kind === 'atc-unresponsive' ? 'ignores ATC invalidations' : d.kind === 'atc-slow' ? `answers ATC invalidations after ${s(d.latencyUs)} µs` : 'answers ATC invalidations again'}`;
    case 'smmu.fault': return d.kind === 'sfm' ? 'SMMU enters Service Failure Mode (GERROR.SFM_ERR)' : 'SMMU aborts a command fetch (CERROR_ABT)';
    case 'evtq.record': return `SMMU records event ${s(d.event)} for SID 0x${Number(d.sid).toString(16)}`;
    case 'evtq.overflow': return 'event queue overflow';
    case 'ste.write': return `driver writes STE for SID 0x${Number(d.sid).toString(16)}: EATS=${s(d.eats)}${d.why ? ` (${s(d.why)})` : ''}`;
    case 'ste.mask_eats': return `ats_broken masks EATS in the STE for SID 0x${Number(d.sid).toString(16)}`;
    case 'ste.cfgi': return `SMMU re-reads STE for SID 0x${Number(d.sid).toString(16)} (CFGI_STE): EATS=${s(d.eats)}`;
    case 'ste.cfgi_all': return 'SMMU drops every cached STE (CFGI_ALL)';
    case 'reg.write': return `driver writes ${s(d.reg)} = ${s(d.value)}`;
    case 'retry.begin': return `batch of ${s(d.commands)} commands failed with -EIO: retry one ATC_INV per StreamID`;
    case 'retry.sid': return `retry for SID 0x${Number(d.sid).toString(16)} (${s(d.bdf)}) times out: this is the broken master`;
    case 'blame.all': return `no retry: every ATS master in the batch is treated as broken (${(d.masters as string[] | undefined)?.join(', ') ?? ''})`;
    case 'quarantine.driver': return `arm_smmu_master_disable_ats(): ${s(d.bdf)} ats_broken = true, STE.EATS cleared`;
    case 'unquarantine.driver': return `arm_smmu_reset_device_done(): ${s(d.bdf)} ats_broken cleared`;
    case 'ats.enable': return `${s(d.bdf)}: pci_enable_ats()`;
    case 'ats.disable': return `${s(d.bdf)}: pci_disable_ats()${d.why ? ` (${s(d.why)})` : ''}`;
    case 'atc_inv.skip': return `no ATC_INV for ${s(d.bdf)} (${s(d.why)})`;
    case 'report_broken': return d.found ? `iommu_report_device_broken(${s(d.bdf)}): broken_pending, worker queued` : `iommu_report_device_broken(${s(d.bdf)}): device not found`;
    case 'worker.skip': return `worker skips ${s(d.bdf)}: ${s(d.why)}`;
    case 'gdev.state': return `group_device ${s(d.bdf)} gets ${s(d.event)}${d.ok !== undefined ? `(ok=${s(d.ok)})` : ''}: blocked ${d.from === d.to ? `stays ${s(d.to)}` : `${s(d.from)} → ${s(d.to)}`} (reset_depth ${s(d.resetDepth)}${d.brokenPending ? ', broken_pending' : ''})`;
    case 'recovery_cnt': return `group ${s(d.group)}: recovery_cnt = ${s(d.value)}`;
    case 'gdev.remove': return `group_device ${s(d.bdf)} removed from group ${s(d.group)} (was ${s(d.blocked)})`;
    case 'device.gone': return `${s(d.bdf)} unplugged`;
    case 'group.domain': return `group ${s(d.group)} attached to ${s(d.domain)}`;
    case 'attach.busy': return `attach ${d.group !== undefined ? `group ${s(d.group)}` : s(d.bdf)}${d.pasid !== undefined ? ` PASID ${s(d.pasid)}` : ''} → -EBUSY (${s(d.why)})`;
    case 'attach.begin': return `arm_smmu_attach_dev(${s(d.bdf)}, ${s(d.domain)})${d.ats ? ' with ATS' : ''}`;
    case 'attach.end': return `${s(d.bdf)} attached to ${s(d.domain)}`;
    case 'pasid.set': return `${s(d.bdf)} PASID ${s(d.pasid)} → ${s(d.domain)}`;
    case 'pasid.remove': return `${s(d.bdf)} PASID ${s(d.pasid)} removed`;
    case 'master.release': return `arm_smmu_release_device(${s(d.bdf)})`;
    case 'map': return `iommu_map(${s(d.domain)}, ${addr(d.iova)}, ${s(d.pages)} pages)`;
    case 'unmap': return `iommu_unmap(${s(d.domain)}, ${addr(d.iova)}, ${s(d.pages)} pages): invalidate`;
    case 'pages.free': return `pages ${(d.pfns as number[] | undefined)?.join(', ') ?? ''} freed and reused by the kernel`;
    case 'reset.call': return `pci_reset_function(${s(d.bdf)}) by ${s(d.method)}${d.probe ? ' (probe)' : ''}`;
    case 'reset.begin': return `${s(d.bdf)} is being reset (${s(d.durationUs)} µs)`;
    case 'reset.end': return `${s(d.bdf)} reset ends: ${rc(d.result)}`;
    case 'reset.return': return `reset of ${s(d.bdf)} by ${s(d.method)} returns ${rc(d.rc)}`;
    case 'endpoint.reset': return `${s(d.bdf)} comes out of reset: ATC empty, ATS off`;
    case 'call': return `${s(d.fn)}(${(d.args as string[] | undefined)?.join(', ') ?? ''}) = ${s(d.ret)}`;
    case 'warn_on': return `WARN_ON(${s(d.cond)}) in ${s(d.func)}`;
    case 'violation': return `INVARIANT BROKEN ${s(d.invariant)}: ${s(d.message)}`;
    default: return `${r.kind} ${JSON.stringify(d)}`;
  }
}

/** The chain of causes of record `id`, the record itself first. */
export function causalChain(trace: readonly TraceRecord[], id: number, limit = 200): { chain: TraceRecord[]; more: boolean } {
  const chain: TraceRecord[] = [];
  let cur = id;
  const seen = new Set<number>();
  while (cur >= 0 && cur < trace.length && !seen.has(cur)) {
    if (chain.length >= limit) return { chain, more: true };
    seen.add(cur);
    const r = trace[cur]!;
    chain.push(r);
    cur = r.cause;
  }
  return { chain, more: false };
}

/** The record that put a device in its present state: its last state change, quarantine or unquarantine before `upTo`. */
export function lastStateRecord(trace: readonly TraceRecord[], bdf: string, upTo: number): number | null {
  for (let i = Math.min(upTo, trace.length) - 1; i >= 0; i--) {
    const r = trace[i]!;
    if (r.d.bdf !== bdf) continue;
    if (r.kind === 'gdev.state' || r.kind === 'quarantine.driver' || r.kind === 'unquarantine.driver' || r.kind === 'device.gone') return i;
  }
  return null;
}

/** The last record of `kind` before `upTo`. */
export function lastRecordOf(trace: readonly TraceRecord[], kind: string, upTo: number): number | null {
  for (let i = Math.min(upTo, trace.length) - 1; i >= 0; i--) if (trace[i]!.kind === kind) return i;
  return null;
}
