/**
 * Scenario steps: each becomes kernel work (a task running kernel
 * functions), a hardware action, or a change of an endpoint's behaviour.
 */
import { emit, note } from '../sim/context.ts';
import { encodeCmd, OPCODE_BY_NAME, type Cmd } from '../hw/cmd.ts';
import { injectCmdqAbort, injectSfm } from '../hw/smmu.ts';
import { doDma, setFault } from '../pci/endpoint.ts';
import { RESET_DURATION_DEFAULTS_US, type Step } from '../scenario/types.ts';
import { issueCmdlist } from './cmdq.ts';
import { iommu_map } from './iommu.ts';
import { iommu_report_device_broken } from './iommu-report.ts';
import { resetStepFrame } from './pci.ts';
import { spawn } from './sched.ts';
import { defineKernelFns } from './sched.ts';
import { call, fnId, frame, ret, type Frame, type Task, type Yield } from './task.ts';
import { EOPNOTSUPP, recordCall, recordRangeCall } from './util.ts';
import type { KWorld } from './state.ts';

function cmdFromSpec(spec: Record<string, unknown>): number[] {
  if (Array.isArray(spec.raw)) {
    const words: number[] = [];
    for (const dw of spec.raw as string[]) {
      const hex = dw.slice(2).padStart(16, '0');
      words.push(parseInt(hex.slice(8), 16) >>> 0, parseInt(hex.slice(0, 8), 16) >>> 0);
    }
    return words;
  }
  const cmd: Record<string, unknown> = { op: OPCODE_BY_NAME[spec.op as string] };
  for (const [k, v] of Object.entries(spec)) {
    if (k === 'op' || k.startsWith('x-')) continue;
    cmd[k] = typeof v === 'string' && v.startsWith('0x') ? parseInt(v.slice(2), 16) : v;
  }
  return encodeCmd(cmd as unknown as Cmd);
}

/** A raw command issued through arm_smmu_cmdq_issue_cmdlist(). */
function step_cmd(w: KWorld, t: Task, f: Frame): Yield {
  if (f.pc === 0) {
    f.pc = 1;
    return call(issueCmdlist(f.words, f.sync));
  }
  recordCall(w, f.startNs, 'arm_smmu_cmdq_issue_cmdlist', [f.desc, f.sync ? 'sync' : 'nosync'], t.rv);
  return ret(t.rv);
}

defineKernelFns({ step_cmd });

const ID_IOMMU_UNMAP = fnId('iommu_unmap');

/**
 * A step's numbers as the kernel takes them: its IOVA (0 for ops without
 * one) and a reset's result as an errno value. The engine parses each step
 * once, when it is added.
 */
export interface StepArgs { iova: number; result: number }

/** Run scenario step `s` now, with its parsed numbers `a`. */
export function runStep(w: KWorld, s: Step, index: number, a: StepArgs): void {
  const iova = a.iova;
  const at = w.s.nowNs;
  if (w.traceOn) emit(w, 'step', { index, op: s.op, step: s as unknown as Record<string, unknown> });
  switch (s.op) {
    case 'map': {
      const rc = iommu_map(w, s.domain, iova, s.pages);
      recordRangeCall(w, at, 'iommu_map', s.domain, iova, s.pages, rc);
      return;
    }
    case 'unmap':
      spawn(w, `unmap ${s.domain}`, { fn: 'iommu_unmap', pc: 0, startNs: -1, id: ID_IOMMU_UNMAP, dom: s.domain, iova, pages: s.pages, pfns: null });
      return;
    case 'dma': {
      const ep = w.pci.endpoints[s.device]!;
      const r = doDma(w, ep, iova, s.write ?? true, s.pasid ?? 0);
      note(w, 'dma.result', { bdf: s.device, outcome: r.outcome, detail: r.detail });
      return;
    }
    case 'fault': {
      const ep = w.pci.endpoints[s.device]!;
      setFault(w, ep, s.kind, (s.latencyUs ?? 0) * 1000);
      return;
    }
    case 'reset': {
      const method = s.method;
      spawn(w, `reset ${s.device} (${method})`, resetStepFrame({
        bdf: s.device, method, result: a.result, probe: s.probe ?? false,
        durNs: (s.durationUs ?? RESET_DURATION_DEFAULTS_US[method]) * 1000,
      }));
      return;
    }
    case 'attach':
      if (s.pasid !== undefined) {
        spawn(w, `attach pasid ${s.pasid}`, frame('iommu_attach_device_pasid', { group: s.group, dom: s.domain, pasid: s.pasid }));
      } else {
        spawn(w, `attach group ${s.group}`, frame('iommu_attach_group', { group: s.group, dom: s.domain, detach: false }));
      }
      return;
    case 'deferred-attach':
      spawn(w, `deferred attach ${s.device}`, frame('iommu_deferred_attach', { bdf: s.device, locked: false }));
      return;
    case 'report-broken': {
      const ok = iommu_report_device_broken(w, s.device);
      recordCall(w, at, 'iommu_report_device_broken', [s.device], ok ? 0 : EOPNOTSUPP);
      return;
    }
    case 'unplug':
      spawn(w, `unplug ${s.device}`, frame('iommu_release_device', { bdf: s.device }));
      return;
    case 'smmu-fault':
      if (s.kind === 'sfm') injectSfm(w);
      else injectCmdqAbort(w);
      return;
    case 'cmd': {
      const words = Uint32Array.from(cmdFromSpec(s.cmd as Record<string, unknown>));
      const desc = s.cmd.raw ? `raw ${s.cmd.raw.join(' ')}` : String(s.cmd.op);
      spawn(w, `cmd ${desc}`, frame('step_cmd', { words, sync: s.sync ?? true, desc }));
      return;
    }
  }
}
