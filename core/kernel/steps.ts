/**
 * Scenario steps: each becomes kernel work (a task running kernel
 * functions), a hardware action, or a change of an endpoint's behaviour.
 */
import { emit, note } from './trace.ts';
import { injectCmdqAbort, injectEvtqAbort, injectSfm } from '../hw/smmu.ts';
import { doDma, setFault } from '../pci/endpoint.ts';
import { RESET_DURATION_DEFAULTS_US, type ResetOutcome, type Step } from '../scenario/types.ts';
import { stepCmdFrame } from './cmdq.ts';
import {
  attachGroupFrame,
  attachPasidFrame,
  deferredAttachFrame,
  iommu_map,
  mapFrame,
  releaseFrame,
  unmapFrame,
} from './iommu.ts';
import { iommu_report_device_broken } from './iommu-report.ts';
import { resetStepFrame } from './pci.ts';
import { cpuFree, spawn } from './sched.ts';
import { EOPNOTSUPP, recordCall, recordRangeCall } from './util.ts';
import type { KWorld } from './state.ts';

/**
 * A step's numbers as the kernel takes them: its IOVA (0 for ops without
 * one) and a reset's result as an errno value. The engine parses each step
 * once, when it is added.
 */
export interface StepArgs {
  iova: number;
  result: number;
  /** A reset's outcome ('as-given': a result the method cannot return, run as the step gives it). */
  outcome: ResetOutcome | 'as-given';
}

/** Run scenario step `s` now, with its parsed numbers `a`. */
export function runStep(w: KWorld, s: Step, index: number, a: StepArgs): void {
  const iova = a.iova;
  const at = w.s.nowNs;
  if (w.traceOn) emit(w, 'step', { index, op: s.op, step: s });
  switch (s.op) {
    case 'map': {
      // iommu_map() takes no time: it runs at once on a free CPU, or waits for one as a task.
      if (!cpuFree(w)) {
        spawn(w, `map ${s.domain}`, mapFrame(s.domain, iova, s.pages));
        return;
      }
      const rc = iommu_map(w, s.domain, iova, s.pages);
      recordRangeCall(w, at, 'iommu_map', s.domain, iova, s.pages, rc);
      return;
    }
    case 'unmap':
      spawn(w, `unmap ${s.domain}`, unmapFrame(s.domain, iova, s.pages));
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
      spawn(
        w,
        `reset ${s.device} (${method})`,
        resetStepFrame({
          bdf: s.device,
          method,
          result: a.result,
          outcome: a.outcome,
          probe: s.probe ?? false,
          durNs: (s.durationUs ?? RESET_DURATION_DEFAULTS_US[method]) * 1000,
        }),
      );
      return;
    }
    case 'attach':
      if (s.pasid !== undefined) spawn(w, `attach pasid ${s.pasid}`, attachPasidFrame(s.group, s.domain, s.pasid));
      else spawn(w, `attach group ${s.group}`, attachGroupFrame(s.group, s.domain));
      return;
    case 'deferred-attach':
      spawn(w, `deferred attach ${s.device}`, deferredAttachFrame(s.device));
      return;
    case 'report-broken': {
      const ok = iommu_report_device_broken(w, s.device);
      recordCall(w, at, 'iommu_report_device_broken', [s.device], ok ? 0 : EOPNOTSUPP);
      return;
    }
    case 'unplug':
      spawn(w, `unplug ${s.device}`, releaseFrame(s.device));
      return;
    case 'smmu-fault':
      if (s.kind === 'sfm') injectSfm(w);
      else if (s.kind === 'evtq-abort') injectEvtqAbort(w);
      else injectCmdqAbort(w);
      return;
    case 'cmd': {
      const f = stepCmdFrame(s.cmd, s.sync ?? true);
      spawn(w, `cmd ${f.desc}`, f);
      return;
    }
  }
}
