/**
 * PCI reset methods (drivers/pci/pci.c, pci-acpi.c, quirks.c) with the
 * IOMMU prepare/done around the reset as seed 003 #01, #02 and #04 leave
 * them: probe mode skips both (with probeSkipsPrepare), done() gets the
 * reset result, cxl_bus nests a bus reset and the device-specific (hinic VF)
 * quirk nests an FLR and then waits for firmware.
 *
 * Every method runs the same sequence, as each of them does in the kernel:
 *
 *   ret = pci_dev_reset_iommu_prepare(dev);
 *   if (ret) { pci_err(dev, "failed to stop IOMMU for a PCI reset: %d\n", ret); return ret; }
 *   ... the reset itself ...
 *   pci_dev_reset_iommu_done(dev, rc);
 *   return rc;
 *
 * written once here (pci_reset_method); only the reset itself differs.
 */
import { emit } from './trace.ts';
import { endpointResetEffect, setEndpointResetting } from '../pci/endpoint.ts';
import { QUIRK_FIRMWARE_WAIT_US, type ResetMethod, type ResetOutcome } from '../scenario/types.ts';
import { FN, type FrameHead } from './fn.ts';
import { unlock } from './locks.ts';
import { call, lock, ret, sleep, type Task, type Yield } from './task.ts';
import { devLog } from './printk.ts';
import { doneFrame, prepareFrame } from './iommu.ts';
import { EINVAL, ENODEV, ENOTTY, ETIMEDOUT, pciDevLock, recordCall } from './util.ts';
import type { KWorld } from './state.ts';

/** The kernel function each reset method of a scenario step runs. */
export const RESET_FN_NAMES = {
  flr: 'pcie_reset_flr',
  af_flr: 'pci_af_flr',
  pm: 'pci_pm_reset',
  bus: 'pci_reset_bus_function',
  cxl_bus: 'cxl_reset_bus_function',
  acpi: 'pci_dev_acpi_reset',
  quirk: 'pci_dev_specific_reset',
} as const satisfies Record<ResetMethod, string>;

/** The reset methods' kernel functions (pcie_flr is the FLR the hinic quirk calls itself). */
export type ResetFnName = (typeof RESET_FN_NAMES)[ResetMethod] | 'pcie_flr';

export interface ResetArgs {
  bdf: string;
  method: ResetMethod;
  /** The result the step gives (used as given when the outcome is 'as-given'). */
  result: number;
  outcome: ResetOutcome | 'as-given';
  probe: boolean;
  durNs: number;
}

/** pci_reset_function()'s locals. */
export interface ResetFunctionFrame extends FrameHead<'pci_reset_function'> {
  /** start: take the device lock; locked: run the method; reset: it returned. */
  pc: 'start' | 'locked' | 'reset';
  bdf: string;
  method: ResetMethod;
  result: number;
  outcome: ResetOutcome | 'as-given';
  probe: boolean;
  durNs: number;
}

/** The step: pci_reset_function() with one method, under the device lock. */
export function resetStepFrame(a: ResetArgs): ResetFunctionFrame {
  return {
    fn: 'pci_reset_function',
    id: FN.pci_reset_function,
    pc: 'start',
    startNs: -1,
    bdf: a.bdf,
    method: a.method,
    result: a.result,
    outcome: a.outcome,
    probe: a.probe,
    durNs: a.durNs,
  };
}

function pci_reset_function(w: KWorld, t: Task, f: ResetFunctionFrame): Yield {
  const fnName = RESET_FN_NAMES[f.method];
  const args = f.probe ? [f.bdf, 'PCI_RESET_PROBE'] : [f.bdf];
  switch (f.pc) {
    case 'start': {
      const ep = w.pci.endpoints[f.bdf];
      if (!ep || !ep.present) {
        recordCall(w, f.startNs, fnName, args, ENODEV);
        return ret(ENODEV);
      }
      f.pc = 'locked';
      return lock(pciDevLock(f.bdf));
    }
    case 'locked':
      emit(w, 'reset.call', { bdf: f.bdf, method: f.method, probe: f.probe });
      f.pc = 'reset';
      return call(resetMethodFrame(fnName, f.bdf, f.result, f.outcome, f.probe, f.durNs));
    case 'reset':
      unlock(w, t, pciDevLock(f.bdf));
      emit(w, 'reset.return', { bdf: f.bdf, method: f.method, rc: t.rv });
      recordCall(w, f.startNs, fnName, args, t.rv);
      return ret(t.rv);
  }
}

/** pci_dev_wait()'s name for each reset that waits for the function to come back. */
const WAIT_EVENT: Readonly<Record<ResetFnName, string>> = {
  pcie_reset_flr: 'FLR',
  pcie_flr: 'FLR',
  pci_af_flr: 'AF_FLR',
  pci_pm_reset: 'PM D3hot->D0',
  pci_reset_bus_function: 'bus reset',
  cxl_reset_bus_function: 'bus reset',
  pci_dev_acpi_reset: '_RST',
  pci_dev_specific_reset: 'FLR',
};

/** PCIE_RESET_READY_POLL_MS and PCI_RESET_WAIT (drivers/pci/pci.h). */
const PCIE_RESET_READY_POLL_MS = 60_000;
const PCI_RESET_WAIT = 1000;

/** A reset method's locals (one frame shape for every method). */
export interface ResetMethodFrame extends FrameHead<ResetFnName> {
  /**
   * start: probe and capability checks, then prepare; prepared: prepare
   * returned; reset: the reset itself begins; reset_slept: the function
   * comes out of reset; wait_ready: pci_dev_wait() polls a function that is
   * not ready; nested_done: a nested reset returned; firmware_done: the
   * quirk's wait for firmware ended; done: done(rc); returned.
   */
  pc: 'start' | 'prepared' | 'reset' | 'reset_slept' | 'wait_ready' | 'nested_done' | 'firmware_done' | 'done' | 'returned';
  bdf: string;
  /** The result the scenario gives the reset (used as given for 'as-given'). */
  result: number;
  /** How the PCI core's reset ends (RESET_OUTCOMES). */
  outcome: ResetOutcome | 'as-given';
  probe: boolean;
  durNs: number;
  /** What the method returns (and hands to done()). */
  rc: number;
  /** Whether this method calls prepare/done (probe mode may skip them). */
  iommu: boolean;
  /** pci_dev_wait()'s next delay in ms. */
  delayMs: number;
}

export function resetMethodFrame(
  fn: ResetFnName,
  bdf: string,
  result: number,
  outcome: ResetOutcome | 'as-given',
  probe: boolean,
  durNs: number,
): ResetMethodFrame {
  return { fn, id: FN[fn], pc: 'start', startNs: -1, bdf, result, outcome, probe, durNs, rc: 0, iommu: true, delayMs: 1 };
}

/**
 * pcie_reset_flr(), pcie_flr(), pci_af_flr(), pci_pm_reset(),
 * pci_reset_bus_function(), cxl_reset_bus_function(), pci_dev_acpi_reset()
 * and __pci_dev_specific_reset(): prepare, the reset, done(rc), each ending
 * as its outcome says (RESET_OUTCOMES).
 */
function pci_reset_method(w: KWorld, t: Task, f: ResetMethodFrame): Yield {
  for (;;) {
    switch (f.pc) {
      case 'start':
        // The capability checks come before prepare: "no reset attempted".
        if (f.outcome === 'unsupported') return ret(ENOTTY);
        switch (f.fn) {
          case 'pci_reset_bus_function':
          case 'pci_dev_specific_reset':
            // Before seed 003 #01 these suspend the IOMMU even for a probe.
            f.iommu = !f.probe || !w.kcfg.flags.probeSkipsPrepare;
            break;
          case 'pci_pm_reset':
            if (f.probe) return ret(0);
            // pci_pm_reset(): "if (dev->current_state != PCI_D0) return -EINVAL", before prepare.
            if (f.outcome === 'not-d0') return ret(EINVAL);
            break;
          default:
            if (f.probe) return ret(0);
        }
        f.pc = f.iommu ? 'prepared' : 'reset';
        if (f.iommu) return call(prepareFrame(f.bdf));
        continue;
      case 'prepared':
        if (t.rv) {
          devLog(w, 'err', f.bdf, `failed to stop IOMMU for a PCI reset: ${t.rv}`);
          return ret(t.rv);
        }
        f.pc = 'reset';
        continue;
      case 'reset':
        switch (f.fn) {
          case 'cxl_reset_bus_function':
            // A secondary bus reset, which prepares and finishes the device itself (nested).
            f.pc = 'nested_done';
            return call(resetMethodFrame('pci_reset_bus_function', f.bdf, f.result, f.outcome, false, f.durNs));
          case 'pci_dev_specific_reset':
            if (f.probe) {
              f.rc = 0;
              f.pc = 'done';
              continue;
            }
            // reset_hinic_vf_dev(): pcie_flr() with its own prepare/done.
            f.pc = 'nested_done';
            return call(resetMethodFrame('pcie_flr', f.bdf, 0, f.outcome === 'not-ready' ? 'not-ready' : 'ok', false, f.durNs));
          case 'pci_reset_bus_function':
            if (f.probe) {
              f.rc = 0;
              f.pc = 'done';
              continue;
            }
            if (f.outcome === 'skipped') {
              // pci_parent_bus_reset(): the device is not alone on its bus; nothing is reset.
              emit(w, 'reset.skipped', { bdf: f.bdf, why: 'pci_parent_bus_reset(): other devices on the bus' });
              f.rc = ENOTTY;
              f.pc = 'done';
              continue;
            }
            break;
          default:
        }
        // The function ignores invalidations while it resets.
        setEndpointResetting(w.pci.endpoints[f.bdf]!, true);
        emit(w, 'reset.begin', { bdf: f.bdf, durationUs: f.durNs / 1000 });
        f.pc = 'reset_slept';
        return sleep(f.durNs);
      case 'reset_slept': {
        if (f.outcome === 'not-ready') {
          f.delayMs = 1;
          f.pc = 'wait_ready';
          continue;
        }
        const ep = w.pci.endpoints[f.bdf]!;
        setEndpointResetting(ep, false);
        f.rc = f.outcome === 'as-given' ? f.result : f.outcome === 'rst-failed' ? ENOTTY : 0;
        // A reset that took place empties the ATC.
        if (f.rc === 0) endpointResetEffect(w, ep);
        emit(w, 'reset.end', { bdf: f.bdf, result: f.rc });
        if (f.outcome === 'rst-failed') devLog(w, 'warn', f.bdf, 'ACPI _RST failed');
        f.pc = 'done';
        continue;
      }
      case 'wait_ready': {
        // pci_dev_wait(): the function answers config reads with errors; back off, doubling.
        const what = WAIT_EVENT[f.fn];
        if (f.delayMs > PCIE_RESET_READY_POLL_MS) {
          devLog(w, 'warn', f.bdf, `not ready ${f.delayMs - 1}ms after ${what}; giving up`);
          // The reset was asserted but never finished: the ATC is not known to be empty.
          setEndpointResetting(w.pci.endpoints[f.bdf]!, false);
          f.rc = ENOTTY;
          emit(w, 'reset.end', { bdf: f.bdf, result: f.rc });
          f.pc = 'done';
          continue;
        }
        if (f.delayMs > PCI_RESET_WAIT) devLog(w, 'info', f.bdf, `not ready ${f.delayMs - 1}ms after ${what}; waiting`);
        const ms = f.delayMs;
        f.delayMs *= 2;
        return sleep(ms * 1_000_000);
      }
      case 'nested_done':
        f.rc = t.rv;
        if (f.fn !== 'pci_dev_specific_reset') {
          f.pc = 'done';
          continue;
        }
        // Wait for the firmware to acknowledge the FLR.
        f.pc = 'firmware_done';
        return sleep(
          f.outcome === 'ack-timeout' || f.outcome === 'as-given'
            ? QUIRK_FIRMWARE_WAIT_US * 1000
            : Math.min(10_000_000, QUIRK_FIRMWARE_WAIT_US * 1000),
        );
      case 'firmware_done':
        if (f.outcome === 'ack-timeout' || f.outcome === 'as-given') {
          devLog(w, 'warn', f.bdf, 'Reset dev timeout, FLR ack reg: 0x00040000');
          f.rc = f.outcome === 'ack-timeout' ? ETIMEDOUT : f.result;
        }
        f.pc = 'done';
        continue;
      case 'done':
        if (!f.iommu) return ret(f.rc);
        f.pc = 'returned';
        return call(doneFrame(f.bdf, f.rc));
      case 'returned':
        return ret(f.rc);
    }
  }
}

/** The PCI core's functions and their frames (kernel/fns.ts runs them). */
export const PCI_FNS = {
  pci_reset_function,
  pcie_reset_flr: pci_reset_method,
  pcie_flr: pci_reset_method,
  pci_af_flr: pci_reset_method,
  pci_pm_reset: pci_reset_method,
  pci_reset_bus_function: pci_reset_method,
  cxl_reset_bus_function: pci_reset_method,
  pci_dev_acpi_reset: pci_reset_method,
  pci_dev_specific_reset: pci_reset_method,
};

export type PciFrame = ResetFunctionFrame | ResetMethodFrame;
