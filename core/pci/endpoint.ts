/**
 * PCIe endpoints: ATS capability and its enable bit, an Address Translation
 * Cache, the fault modes a user can inject, reset state, and DMA.
 *
 * An unresponsive endpoint neither purges its ATC nor sends an Invalidate
 * Completion, so its stale entries stay. A write through a stale entry into a
 * page that was freed and reused by someone else is memory corruption — the
 * harm the quarantine series exists to prevent.
 */
import { emit, note, schedule, type SimCtx } from '../sim/context.ts';
import {
  atcReq, atsTranslationRequest, checkTranslated, jitterNs, onAtcInvCompletion, translateUntranslated,
  type HwWorld,
} from '../hw/smmu.ts';
import { PAGE_FREE, type MemState } from './memory.ts';

export type EndpointMode = 'ok' | 'unresponsive' | 'slow';

export interface AtcEntry {
  ssid: number;
  ipfn: number;
  pfn: number;
  write: boolean;
  /** Page generation when the translation was cached. */
  gen: number;
  /** IO page table the translation came from. */
  ttb: number;
}

export interface Endpoint {
  bdf: string;
  sids: number[];
  atsCap: boolean;
  /** ATS Control register Enable bit (pci_enable_ats / pci_disable_ats). */
  atsEnabled: boolean;
  pasidCap: boolean;
  driver: string;
  mode: EndpointMode;
  slowNs: number;
  atc: AtcEntry[];
  present: boolean;
  /** Between the start and the end of a reset: invalidations are ignored (PCIe r6.0 §10.3.1). */
  resetting: boolean;
  stats: { dmaOk: number; dmaBlocked: number; staleWrites: number; atcHits: number; atcMisses: number };
}

export interface PciState { endpoints: Record<string, Endpoint>; sidToBdf: Record<number, string> }

export interface PciStats { staleAtcWrites: number; corruptedPages: number }

export interface PciWorld extends HwWorld { pci: PciState; mem: MemState; pciStats: PciStats }

export function pciInit(devs: Array<{ bdf: string; sids: number[]; ats: boolean; pasid: boolean; driver: string }>): PciState {
  const endpoints: Record<string, Endpoint> = {};
  const sidToBdf: Record<number, string> = {};
  for (const d of devs) {
    endpoints[d.bdf] = {
      bdf: d.bdf, sids: [...d.sids], atsCap: d.ats, atsEnabled: false, pasidCap: d.pasid, driver: d.driver,
      mode: 'ok', slowNs: 0, atc: [], present: true, resetting: false,
      stats: { dmaOk: 0, dmaBlocked: 0, staleWrites: 0, atcHits: 0, atcMisses: 0 },
    };
    for (const s of d.sids) sidToBdf[s] = d.bdf;
  }
  return { endpoints, sidToBdf };
}

/** An ATS Invalidate Request arrives at the endpoint that owns the SID. */
export function onAtcInvRequest(w: PciWorld, reqId: number): void {
  const req = atcReq(w, reqId);
  if (!req) return;
  const bdf = w.pci.sidToBdf[req.sid];
  const ep = bdf === undefined ? undefined : w.pci.endpoints[bdf];
  if (!ep || !ep.present) {
    // Nobody answers at this RID: the root port completes it with UR, which completes without error.
    note(w, 'atc.inv.ur', { req: reqId, sid: req.sid, why: 'no device' });
    schedule(w, w.s.nowNs, { k: 'hw.atc_inv_cpl', req: reqId });
    return;
  }
  if (ep.resetting) {
    emit(w, 'atc.inv.ignored', { req: reqId, bdf: ep.bdf, why: 'device is resetting' });
    return;
  }
  if (ep.mode === 'unresponsive') {
    // A hung function answers nothing, whatever its ATS Enable bit says.
    emit(w, 'atc.inv.ignored', { req: reqId, bdf: ep.bdf, why: 'unresponsive to ATC invalidation' });
    return;
  }
  if (!ep.atsEnabled) {
    note(w, 'atc.inv.ur', { req: reqId, bdf: ep.bdf, why: 'ATS disabled at the endpoint' });
    schedule(w, w.s.nowNs + w.hwcfg.atcInvResponseNs, { k: 'hw.atc_inv_cpl', req: reqId });
    return;
  }
  switch (ep.mode as 'ok' | 'slow') {
    case 'slow':
      emit(w, 'atc.inv.recv', { req: reqId, bdf: ep.bdf, afterNs: ep.slowNs });
      schedule(w, w.s.nowNs + ep.slowNs, { k: 'pci.atc_inv_done', req: reqId });
      return;
    case 'ok':
      emit(w, 'atc.inv.recv', { req: reqId, bdf: ep.bdf });
      schedule(w, jitterNs(w, w.hwcfg.atcInvResponseNs), { k: 'pci.atc_inv_done', req: reqId });
  }
}

/** The endpoint purges the range from its ATC and sends the Invalidate Completion. */
export function onAtcInvDone(w: PciWorld, reqId: number): void {
  const req = atcReq(w, reqId);
  const bdf = req ? w.pci.sidToBdf[req.sid] : undefined;
  const ep = bdf === undefined ? undefined : w.pci.endpoints[bdf];
  if (req && ep) {
    const before = ep.atc.length;
    ep.atc = ep.atc.filter((e) => !(e.ipfn >= req.first && e.ipfn <= req.last && (!req.ssv || e.ssid === req.ssid)));
    emit(w, 'atc.purge', { bdf: ep.bdf, req: reqId, removed: before - ep.atc.length });
  } else if (!req) {
    // The SMMU already gave up on it (timed out); the endpoint still purges the range.
    note(w, 'atc.inv.late', { req: reqId });
    return;
  }
  onAtcInvCompletion(w, reqId);
}

export function setFault(w: PciWorld, ep: Endpoint, kind: 'atc-unresponsive' | 'atc-slow' | 'atc-recover', latencyNs = 0): void {
  ep.mode = kind === 'atc-unresponsive' ? 'unresponsive' : kind === 'atc-slow' ? 'slow' : 'ok';
  ep.slowNs = kind === 'atc-slow' ? latencyNs : 0;
  emit(w, 'fault.inject', { bdf: ep.bdf, kind, latencyUs: latencyNs / 1000 });
}

export type DmaOutcome = 'ok' | 'blocked' | 'stale' | 'corrupt' | 'fault' | 'absent';

/**
 * One DMA by the endpoint. With ATS enabled: an ATC hit is sent as a
 * Translated request; a miss sends an ATS Translation Request first (filling
 * the ATC) or falls back to an Untranslated request on UR.
 */
export function doDma(w: PciWorld, ep: Endpoint, iova: number, write: boolean, ssid: number): { outcome: DmaOutcome; detail: string } {
  if (!ep.present) return { outcome: 'absent', detail: 'device is not present' };
  if (ep.resetting) return { outcome: 'absent', detail: 'device is resetting' };
  const sid = ep.sids[0]!;
  const ipfn = Math.floor(iova / 4096);
  const m = w.mem;
  let entry: AtcEntry | undefined;
  if (ep.atsCap && ep.atsEnabled) {
    entry = ep.atc.find((e) => e.ssid === ssid && e.ipfn === ipfn);
    if (entry) ep.stats.atcHits++;
    else {
      ep.stats.atcMisses++;
      const tr = atsTranslationRequest(w, sid, ssid, iova, write);
      if (tr.ok) {
        entry = { ssid, ipfn, pfn: tr.pfn, write, gen: m.gen[tr.pfn]!, ttb: tr.ttb };
        ep.atc.push(entry);
        note(w, 'atc.fill', { bdf: ep.bdf, ssid, ipfn, pfn: tr.pfn });
      } else if (!tr.ur) {
        ep.stats.dmaBlocked++;
        emit(w, 'dma', { bdf: ep.bdf, iova, write, outcome: 'fault', detail: tr.reason });
        return { outcome: 'fault', detail: tr.reason };
      }
    }
  }
  if (entry) {
    const v = checkTranslated(w, sid, entry.pfn, write);
    if (!v.ok) {
      ep.stats.dmaBlocked++;
      emit(w, 'dma', { bdf: ep.bdf, iova, write, outcome: 'blocked', via: 'translated', pfn: entry.pfn, detail: v.reason });
      return { outcome: 'blocked', detail: v.reason };
    }
    const pt = m.pgtables[String(entry.ttb)];
    const reused = m.gen[entry.pfn] !== entry.gen;
    const stale = reused || pt?.[ipfn] !== entry.pfn;
    if (write && stale) {
      ep.stats.staleWrites++;
      w.pciStats.staleAtcWrites++;
      const corrupt = reused && m.owner[entry.pfn] !== PAGE_FREE;
      if (corrupt && !m.corrupted[entry.pfn]) {
        m.corrupted[entry.pfn] = 1;
        w.pciStats.corruptedPages++;
      }
      const outcome: DmaOutcome = corrupt ? 'corrupt' : 'stale';
      emit(w, 'dma', { bdf: ep.bdf, iova, write, outcome, via: v.via, pfn: entry.pfn, owner: m.owner[entry.pfn] });
      return { outcome, detail: corrupt ? `wrote page ${entry.pfn} through a stale ATC entry; the page now belongs to someone else` : `wrote page ${entry.pfn} through a stale ATC entry` };
    }
    ep.stats.dmaOk++;
    emit(w, 'dma', { bdf: ep.bdf, iova, write, outcome: 'ok', via: v.via, pfn: entry.pfn, stale });
    return { outcome: 'ok', detail: `${v.via} access to page ${entry.pfn}` };
  }
  const u = translateUntranslated(w, sid, ssid, iova, write);
  if (!u.ok) {
    ep.stats.dmaBlocked++;
    emit(w, 'dma', { bdf: ep.bdf, iova, write, outcome: 'blocked', via: 'untranslated', detail: u.reason });
    return { outcome: 'blocked', detail: u.reason };
  }
  ep.stats.dmaOk++;
  emit(w, 'dma', { bdf: ep.bdf, iova, write, outcome: 'ok', via: u.via, pfn: u.pfn });
  return { outcome: 'ok', detail: `${u.via} access to page ${u.pfn}` };
}

/** Effect of a reset that took place: the function's ATC is empty and it answers again. */
export function endpointResetEffect(w: SimCtx, ep: Endpoint): void {
  ep.atc = [];
  ep.mode = 'ok';
  ep.slowNs = 0;
  ep.atsEnabled = false;
  note(w, 'endpoint.reset', { bdf: ep.bdf });
}
