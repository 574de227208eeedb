/**
 * iommu_report_device_broken() (drivers/iommu/iommu.c, seed 003 #11): set
 * broken_pending and schedule the group_device's broken_work. Callable from
 * any context; the quarantine itself happens in the worker.
 */
import { schedule } from '../sim/context.ts';
import { emit } from './trace.ts';
import type { KWorld } from './state.ts';
import { gdevEvent } from './util.ts';

export function iommu_report_device_broken(w: KWorld, bdf: string): boolean {
  if (!w.kcfg.flags.coreQuarantine) return false;
  const g = w.k.gdevs[bdf];
  if (!g || !g.present) {
    // Concurrently removed from the IOMMU subsystem: nothing to do.
    emit(w, 'report_broken', { bdf, found: false });
    return true;
  }
  emit(w, 'report_broken', { bdf, found: true });
  gdevEvent(w, g, { type: 'REPORT_BROKEN' });
  if (!g.workQueued) {
    g.workQueued = true;
    schedule(w, w.s.nowNs + w.kcfg.workerLatencyNs, { k: 'work.broken', bdf });
  }
  return true;
}
