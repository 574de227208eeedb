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
import { QUIRK_FIRMWARE_WAIT_US, type ResetMethod } from '../scenario/types.ts';
import { FN, type FrameHead } from './fn.ts';
import { unlock } from './locks.ts';
import { call, lock, ret, sleep, type Task, type Yield } from './task.ts';
import { devLog } from './printk.ts';
import { doneFrame, prepareFrame } from './iommu.ts';
import { ENODEV, ENOTTY, pciDevLock, recordCall } from './util.ts';
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
  result: number;
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
      return call(resetMethodFrame(fnName, f.bdf, f.result, f.probe, f.durNs));
    case 'reset':
      unlock(w, t, pciDevLock(f.bdf));
      emit(w, 'reset.return', { bdf: f.bdf, method: f.method, rc: t.rv });
      recordCall(w, f.startNs, fnName, args, t.rv);
      return ret(t.rv);
  }
}

/** A reset method's locals (one frame shape for every method). */
export interface ResetMethodFrame extends FrameHead<ResetFnName> {
  /**
   * start: probe and capability checks, then prepare; prepared: prepare
   * returned; reset: the reset itself begins; reset_slept: the function
   * comes out of reset; nested_done: a nested reset returned; firmware_done:
   * the quirk's wait for firmware ended; done: done(rc); returned.
   */
  pc: 'start' | 'prepared' | 'reset' | 'reset_slept' | 'nested_done' | 'firmware_done' | 'done' | 'returned';
  bdf: string;
  /** The result the scenario gives the reset itself (0 or an errno value). */
  result: number;
  probe: boolean;
  durNs: number;
  /** What the method returns (and hands to done()). */
  rc: number;
  /** Whether this method calls prepare/done (probe mode may skip them). */
  iommu: boolean;
}

export function resetMethodFrame(fn: ResetFnName, bdf: string, result: number, probe: boolean, durNs: number): ResetMethodFrame {
  return { fn, id: FN[fn], pc: 'start', startNs: -1, bdf, result, probe, durNs, rc: 0, iommu: true };
}

/**
 * pcie_reset_flr(), pcie_flr(), pci_af_flr(), pci_pm_reset(),
 * pci_reset_bus_function(), cxl_reset_bus_function(), pci_dev_acpi_reset()
 * and __pci_dev_specific_reset(): prepare, the reset, done(rc).
 */
function pci_reset_method(w: KWorld, t: Task, f: ResetMethodFrame): Yield {
  for (;;) {
    switch (f.pc) {
      case 'start':
        switch (f.fn) {
          case 'pci_reset_bus_function':
          case 'pci_dev_specific_reset':
            // Before seed 003 #01 these suspend the IOMMU even for a probe.
            f.iommu = !f.probe || !w.kcfg.flags.probeSkipsPrepare;
            break;
          case 'pcie_reset_flr':
          case 'pcie_flr':
          case 'pci_af_flr':
          case 'pci_pm_reset':
            // No such capability: -ENOTTY before touching the IOMMU ("reset was not attempted").
            if (f.result === ENOTTY) return ret(ENOTTY);
            if (f.probe) return ret(0);
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
            return call(resetMethodFrame('pci_reset_bus_function', f.bdf, f.result, false, f.durNs));
          case 'pci_dev_specific_reset':
            if (f.probe) {
              f.rc = 0;
              f.pc = 'done';
              continue;
            }
            // reset_hinic_vf_dev(): pcie_flr() with its own prepare/done.
            f.pc = 'nested_done';
            return call(resetMethodFrame('pcie_flr', f.bdf, 0, false, f.durNs));
          case 'pci_reset_bus_function':
            if (f.probe) {
              f.rc = 0;
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
        const ep = w.pci.endpoints[f.bdf]!;
        setEndpointResetting(ep, false);
        // A reset that took place empties the ATC.
        if (f.result === 0) endpointResetEffect(w, ep);
        emit(w, 'reset.end', { bdf: f.bdf, result: f.result });
        f.rc = f.result;
        if (f.fn === 'pci_dev_acpi_reset' && f.result !== 0) {
          // A failing _RST is reported as -ENOTTY.
          devLog(w, 'warn', f.bdf, 'ACPI _RST failed');
          f.rc = ENOTTY;
        }
        f.pc = 'done';
        continue;
      }
      case 'nested_done':
        f.rc = t.rv;
        if (f.fn !== 'pci_dev_specific_reset') {
          f.pc = 'done';
          continue;
        }
        // Wait for the firmware to acknowledge the FLR.
        f.pc = 'firmware_done';
        return sleep(f.result === 0 ? Math.min(10_000_000, QUIRK_FIRMWARE_WAIT_US * 1000) : QUIRK_FIRMWARE_WAIT_US * 1000);
      case 'firmware_done':
        if (f.result !== 0) {
          devLog(w, 'warn', f.bdf, 'Reset dev timeout, FLR ack reg: 0x00040000');
          f.rc = f.result;
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
