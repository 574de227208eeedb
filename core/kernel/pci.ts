/**
 * PCI reset methods (drivers/pci/pci.c, pci-acpi.c, quirks.c) with the
 * IOMMU prepare/done around the reset as seed 003 #01, #02 and #04 leave
 * them: probe mode skips both (with probeSkipsPrepare), done() gets the
 * reset result, cxl_bus nests a bus reset and the device-specific (hinic VF)
 * quirk nests an FLR and then waits for firmware.
 */
import { emit } from '../sim/context.ts';
import { endpointResetEffect, setEndpointResetting } from '../pci/endpoint.ts';
import { QUIRK_FIRMWARE_WAIT_US } from '../scenario/types.ts';
import { defineKernelFns, unlock } from './sched.ts';
import { call, frame, lock, ret, sleep, type Frame, type Task, type Yield } from './task.ts';
import { devLog } from './printk.ts';
import { doneFrame, prepareFrame } from './iommu.ts';
import { ENODEV, ENOTTY, pciDevLock, recordCall } from './util.ts';
import type { KWorld } from './state.ts';

export const RESET_FN_NAMES = {
  flr: 'pcie_reset_flr',
  af_flr: 'pci_af_flr',
  pm: 'pci_pm_reset',
  bus: 'pci_reset_bus_function',
  cxl_bus: 'cxl_reset_bus_function',
  acpi: 'pci_dev_acpi_reset',
  quirk: 'pci_dev_specific_reset',
} as const;

export interface ResetArgs { bdf: string; method: keyof typeof RESET_FN_NAMES; result: number; probe: boolean; durNs: number }

/** The step: pci_reset_function() with one method, under the device lock. */
export function resetStepFrame(a: ResetArgs): Frame {
  return frame('pci_reset_function', { ...a });
}

function pci_reset_function(w: KWorld, t: Task, f: Frame): Yield {
  const fnName = RESET_FN_NAMES[f.method as ResetArgs['method']];
  const args = f.probe ? [f.bdf, 'PCI_RESET_PROBE'] : [f.bdf];
  switch (f.pc) {
    case 0: {
      const ep = w.pci.endpoints[f.bdf];
      if (!ep || !ep.present) {
        recordCall(w, f.startNs, fnName, args, ENODEV);
        return ret(ENODEV);
      }
      f.pc = 1;
      return lock(pciDevLock(f.bdf));
    }
    case 1:
      emit(w, 'reset.call', { bdf: f.bdf, method: f.method, probe: f.probe });
      f.pc = 2;
      switch (f.method as ResetArgs['method']) {
        case 'flr': return call(frame('pcie_reset_flr', { bdf: f.bdf, result: f.result, probe: f.probe, durNs: f.durNs }));
        case 'af_flr': return call(frame('pci_af_flr', { bdf: f.bdf, result: f.result, probe: f.probe, durNs: f.durNs }));
        case 'pm': return call(frame('pci_pm_reset', { bdf: f.bdf, result: f.result, probe: f.probe, durNs: f.durNs }));
        case 'bus': return call(busResetFrame(f.bdf, f.result, f.probe, f.durNs));
        case 'cxl_bus': return call(frame('cxl_reset_bus_function', { bdf: f.bdf, result: f.result, probe: f.probe, durNs: f.durNs, rc: 0 }));
        case 'acpi': return call(frame('pci_dev_acpi_reset', { bdf: f.bdf, result: f.result, probe: f.probe, durNs: f.durNs, rc: 0 }));
        case 'quirk': return call(frame('pci_dev_specific_reset', { bdf: f.bdf, result: f.result, probe: f.probe, durNs: f.durNs, rc: 0, iommu: false }));
      }
      throw new Error(`unknown reset method ${f.method}`);
    default:
      unlock(w, t, pciDevLock(f.bdf));
      emit(w, 'reset.return', { bdf: f.bdf, method: f.method, rc: t.rv });
      recordCall(w, f.startNs, fnName, args, t.rv);
      return ret(t.rv);
  }
}

/** The physical reset: the function ignores invalidations while it resets; success empties its ATC. */
function physicalReset(w: KWorld, f: Frame, result: number): Yield | null {
  const ep = w.pci.endpoints[f.bdf]!;
  if (f.resetPhase === undefined) {
    f.resetPhase = 1;
    setEndpointResetting(ep, true);
    emit(w, 'reset.begin', { bdf: f.bdf, durationUs: f.durNs / 1000 });
    return sleep(f.durNs);
  }
  setEndpointResetting(ep, false);
  if (result === 0) endpointResetEffect(w, ep);
  emit(w, 'reset.end', { bdf: f.bdf, result });
  return null;
}

/** A plain reset (FLR, AF FLR, PM): prepare, reset, done(result). */
function plainReset(w: KWorld, t: Task, f: Frame): Yield {
  for (;;) {
    switch (f.pc) {
      case 0:
        // No such capability: -ENOTTY before touching the IOMMU ("reset was not attempted").
        if (f.result === ENOTTY) return ret(ENOTTY);
        if (f.probe) return ret(0);
        f.pc = 1;
        return call(prepareFrame(f.bdf));
      case 1:
        if (t.rv) {
          devLog(w, 'err', f.bdf, `failed to stop IOMMU for a PCI reset: ${t.rv}`);
          return ret(t.rv);
        }
        f.pc = 2;
        continue;
      case 2: {
        const y = physicalReset(w, f, f.result);
        if (y) return y;
        f.pc = 3;
        return call(doneFrame(f.bdf, f.result));
      }
      default:
        return ret(f.result);
    }
  }
}

export function busResetFrame(bdf: string, result: number, probe: boolean, durNs: number): Frame {
  return frame('pci_reset_bus_function', { bdf, result, probe, durNs, rc: 0, iommu: false });
}

/** pci_reset_bus_function(): before seed 003 #01 it suspends the IOMMU even for a probe. */
function pci_reset_bus_function(w: KWorld, t: Task, f: Frame): Yield {
  for (;;) {
    switch (f.pc) {
      case 0:
        f.iommu = !f.probe || !w.kcfg.flags.probeSkipsPrepare;
        f.pc = 2;
        if (f.iommu) { f.pc = 1; return call(prepareFrame(f.bdf)); }
        continue;
      case 1:
        if (t.rv) {
          devLog(w, 'err', f.bdf, `failed to stop IOMMU for a PCI reset: ${t.rv}`);
          return ret(t.rv);
        }
        f.pc = 2;
        continue;
      case 2: {
        if (f.probe) { f.rc = 0; f.pc = 3; continue; }
        const y = physicalReset(w, f, f.result);
        if (y) return y;
        f.rc = f.result;
        f.pc = 3;
        continue;
      }
      case 3:
        if (!f.iommu) return ret(f.rc);
        f.pc = 4;
        return call(doneFrame(f.bdf, f.rc));
      default:
        return ret(f.rc);
    }
  }
}

/** cxl_reset_bus_function(): prepare, then a nested pci_reset_bus_function(), then done(rc). */
function cxl_reset_bus_function(w: KWorld, t: Task, f: Frame): Yield {
  switch (f.pc) {
    case 0:
      if (f.probe) return ret(0);
      f.pc = 1;
      return call(prepareFrame(f.bdf));
    case 1:
      if (t.rv) {
        devLog(w, 'err', f.bdf, `failed to stop IOMMU for a PCI reset: ${t.rv}`);
        return ret(t.rv);
      }
      f.pc = 2;
      return call(busResetFrame(f.bdf, f.result, false, f.durNs));
    case 2:
      f.rc = t.rv;
      f.pc = 3;
      return call(doneFrame(f.bdf, f.rc));
    default:
      return ret(f.rc);
  }
}

/** pci_dev_acpi_reset(): a failing _RST is reported as -ENOTTY. */
function pci_dev_acpi_reset(w: KWorld, t: Task, f: Frame): Yield {
  for (;;) {
    switch (f.pc) {
      case 0:
        if (f.probe) return ret(0);
        f.pc = 1;
        return call(prepareFrame(f.bdf));
      case 1:
        if (t.rv) {
          devLog(w, 'err', f.bdf, `failed to stop IOMMU for a PCI reset: ${t.rv}`);
          return ret(t.rv);
        }
        f.pc = 2;
        continue;
      case 2: {
        const y = physicalReset(w, f, f.result);
        if (y) return y;
        f.rc = 0;
        if (f.result !== 0) {
          devLog(w, 'warn', f.bdf, 'ACPI _RST failed');
          f.rc = ENOTTY;
        }
        f.pc = 3;
        return call(doneFrame(f.bdf, f.rc));
      }
      default:
        return ret(f.rc);
    }
  }
}

/**
 * __pci_dev_specific_reset() with reset_hinic_vf_dev(): prepare, an FLR
 * (nested prepare/done), then a wait for the firmware's FLR ack that can
 * time out after the FLR itself succeeded (seed 000, seed 003 #02).
 */
function pci_dev_specific_reset(w: KWorld, t: Task, f: Frame): Yield {
  for (;;) {
    switch (f.pc) {
      case 0:
        f.iommu = !f.probe || !w.kcfg.flags.probeSkipsPrepare;
        f.pc = 2;
        if (f.iommu) { f.pc = 1; return call(prepareFrame(f.bdf)); }
        continue;
      case 1:
        if (t.rv) {
          devLog(w, 'err', f.bdf, `failed to stop IOMMU for a PCI reset: ${t.rv}`);
          return ret(t.rv);
        }
        f.pc = 2;
        continue;
      case 2:
        if (f.probe) { f.rc = 0; f.pc = 5; continue; }
        f.pc = 3;
        // reset_hinic_vf_dev(): pcie_flr() with its own prepare/done.
        return call(frame('pcie_flr', { bdf: f.bdf, result: 0, probe: false, durNs: f.durNs }));
      case 3:
        f.rc = t.rv;
        f.pc = 4;
        // Wait for the firmware to acknowledge the FLR.
        return sleep(f.result === 0 ? Math.min(10_000_000, QUIRK_FIRMWARE_WAIT_US * 1000) : QUIRK_FIRMWARE_WAIT_US * 1000);
      case 4:
        if (f.result !== 0) {
          devLog(w, 'warn', f.bdf, 'Reset dev timeout, FLR ack reg: 0x00040000');
          f.rc = f.result;
        }
        f.pc = 5;
        continue;
      case 5:
        if (!f.iommu) return ret(f.rc);
        f.pc = 6;
        return call(doneFrame(f.bdf, f.rc));
      default:
        return ret(f.rc);
    }
  }
}

defineKernelFns({
  pci_reset_function,
  pcie_reset_flr: plainReset,
  pcie_flr: plainReset,
  pci_af_flr: plainReset,
  pci_pm_reset: plainReset,
  pci_reset_bus_function,
  cxl_reset_bus_function,
  pci_dev_acpi_reset,
  pci_dev_specific_reset,
});
