/**
 * PCIe endpoints: ATS capability and its enable bit, an Address Translation
 * Cache, the fault modes a user can inject, reset state, and DMA.
 *
 * An unresponsive endpoint neither purges its ATC nor sends an Invalidate
 * Completion, so its stale entries stay. A write through a stale entry into a
 * page that was freed and reused by someone else is memory corruption — the
 * harm the quarantine series exists to prevent.
 */
import { emit, note, type DmaOutcome } from './trace.ts';
import {
  atcInvResponseJitterNs,
  atsTranslationRequest,
  checkTranslated,
  translateUntranslated,
  type HwWorld,
  type PcieBus,
} from '../hw/smmu.ts';
import { atcInvFirst, atcInvLast, atcInvSsid, atcInvSsv } from '../hw/cmd.ts';
import { PAGE_FREE, type MemState } from '../hw/memory.ts';

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
  /** Invalidations answered but not yet completed: their ATC purges, by completion time. */
  purges: PendingPurge[];
  /** Between the start and the end of a reset: invalidations are ignored (PCIe r6.0 §10.3.1). */
  resetting: boolean;
  stats: { dmaOk: number; dmaBlocked: number; staleWrites: number; atcHits: number; atcMisses: number };
}

export interface PciState {
  endpoints: Record<string, Endpoint>;
  sidToBdf: Record<number, string>;
  /** The same endpoints indexed by StreamID. */
  sidToEp: Record<number, Endpoint>;
  /** Earliest pending purge time over all endpoints. */
  nextPurgeNs: number;
  /** Endpoints with pending purges. */
  purging: string[];
}

export interface PciStats {
  staleAtcWrites: number;
  corruptedPages: number;
}

export interface PciWorld extends HwWorld {
  pci: PciState;
  mem: MemState;
  pciStats: PciStats;
}

export function pciInit(devs: Array<{ bdf: string; sids: number[]; ats: boolean; pasid: boolean; driver: string }>): PciState {
  const endpoints: Record<string, Endpoint> = {};
  const sidToBdf: Record<number, string> = {};
  for (const d of devs) {
    endpoints[d.bdf] = {
      bdf: d.bdf,
      sids: [...d.sids],
      atsCap: d.ats,
      atsEnabled: false,
      pasidCap: d.pasid,
      driver: d.driver,
      mode: 'ok',
      slowNs: 0,
      atc: [],
      purges: [],
      present: true,
      resetting: false,
      stats: { dmaOk: 0, dmaBlocked: 0, staleWrites: 0, atcHits: 0, atcMisses: 0 },
    };
    for (const s of d.sids) sidToBdf[s] = d.bdf;
  }
  const sidToEp: Record<number, Endpoint> = {};
  for (const [sid, bdf] of Object.entries(sidToBdf)) sidToEp[Number(sid)] = endpoints[bdf]!;
  return { endpoints, sidToBdf, sidToEp, nextPurgeNs: Number.POSITIVE_INFINITY, purging: [] };
}

/** The ATS Control register's Enable bit (pci_enable_ats() / pci_disable_ats()). */
export function setAtsEnable(ep: Endpoint, on: boolean): void {
  ep.atsEnabled = on;
}

/** The function is gone from the bus (surprise removal or unplug). */
export function endpointRemoved(ep: Endpoint): void {
  ep.present = false;
}

/** Start or end of a reset: in between the function ignores invalidations. */
export function setEndpointResetting(ep: Endpoint, on: boolean): void {
  ep.resetting = on;
}

/** A purge of ATC entries the endpoint performs when it completes an invalidation. */
export interface PendingPurge {
  atNs: number;
  req: number;
  first: number;
  last: number;
  ssid: number;
  ssv: boolean;
  late: boolean;
}

/**
 * How the endpoint that owns the SID answers the ATS Invalidate Request for
 * the ATC_INV whose words start at q[base], sent at sentNs. Returns when its
 * Invalidate Completion reaches the SMMU (Infinity: never). A present,
 * responsive endpoint purges the range and completes after its response
 * time; a slow one after its latency; an unresponsive or resetting one
 * (PCIe r6.0 §10.3.1) ignores it; a missing function or one with ATS
 * disabled gets an Unsupported Request, which completes without error.
 */
function respondAtcInv(hw: HwWorld, q: Uint32Array, base: number, reqId: number, sentNs: number, deadlineNs: number): number {
  const w = hw as PciWorld;
  const ep = w.pci.sidToEp[q[base + 1]!];
  // The common answer (a storm's) is kept small, so the SMMU's consumer
  // can take it in line: present, not resetting, responsive, ATS enabled.
  // (Strict comparisons with true and false: the fields are booleans, and
  // `!x` on a field would test every kind of falsy value.)
  if (ep === undefined || ep.present !== true || ep.resetting !== false || ep.mode !== 'ok' || ep.atsEnabled !== true) {
    return respondAtcInvOther(w, ep, q, base, reqId, sentNs, deadlineNs);
  }
  const at = atcInvResponseJitterNs(w) + sentNs;
  if (w.traceOn) traceAtcInvRecv(w, reqId, ep, at);
  if (ep.atc.length > 0) purgeOnCompletion(w, ep, q, base, reqId, at, deadlineNs);
  return at;
}

/** respondAtcInv() for an endpoint that is missing, resetting, unresponsive, slow or has ATS disabled (answered as enabled). */
function respondAtcInvOther(
  w: PciWorld,
  ep: Endpoint | undefined,
  q: Uint32Array,
  base: number,
  reqId: number,
  sentNs: number,
  deadlineNs: number,
): number {
  if (ep === undefined || !ep.present) {
    if (w.traceOn) note(w, 'atc.inv.ur', { req: reqId, sid: q[base + 1]!, why: 'no device' });
    return sentNs;
  }
  if (ep.resetting) {
    emit(w, 'atc.inv.ignored', { req: reqId, bdf: ep.bdf, why: 'device is resetting' });
    return Number.POSITIVE_INFINITY;
  }
  if (ep.mode === 'unresponsive') {
    // A hung function answers nothing, whatever its ATS Enable bit says.
    emit(w, 'atc.inv.ignored', { req: reqId, bdf: ep.bdf, why: 'unresponsive to ATC invalidation' });
    return Number.POSITIVE_INFINITY;
  }
  // ATS Enable clear stops the function using and filling its ATC, not answering invalidations:
  // the kernel disables ATS and then invalidates the whole ATC (arm_smmu_disable_ats(): "Ensure ATS
  // is disabled at the endpoint before we issue the ATC invalidation via the SMMU"), and flushes it
  // before pci_enable_ats() (arm_smmu_enable_ats()), both of which only work if such a function
  // still purges and completes. So it is handled as an enabled one is.
  const at = ep.mode === 'slow' ? sentNs + ep.slowNs : atcInvResponseJitterNs(w) + sentNs;
  if (w.traceOn) traceAtcInvRecv(w, reqId, ep, at);
  if (ep.atc.length > 0) purgeOnCompletion(w, ep, q, base, reqId, at, deadlineNs);
  return at;
}

function traceAtcInvRecv(w: PciWorld, reqId: number, ep: Endpoint, at: number): void {
  emit(w, 'atc.inv.recv', { req: reqId, bdf: ep.bdf, cplAtNs: at });
}

/**
 * The request applies to the translations cached when it arrives (entries
 * filled afterwards come from the updated page table): those in its range
 * are purged when the endpoint completes it, at `at`.
 */
function purgeOnCompletion(
  w: PciWorld,
  ep: Endpoint,
  q: Uint32Array,
  base: number,
  reqId: number,
  at: number,
  deadlineNs: number,
): void {
  const w0 = q[base]!;
  const w2 = q[base + 2]!;
  const w3 = q[base + 3]!;
  const first = atcInvFirst(w2, w3);
  const last = atcInvLast(w2, w3);
  const ssid = atcInvSsid(w0);
  const ssv = atcInvSsv(w0);
  if (atcHolds(ep, first, last, ssid, ssv)) queuePurge(w, ep, reqId, first, last, ssid, ssv, at, deadlineNs);
}

/** Does the ATC hold a translation the invalidation covers? */
function atcHolds(ep: Endpoint, first: number, last: number, ssid: number, ssv: boolean): boolean {
  const atc = ep.atc;
  for (let i = 0; i < atc.length; i++) {
    const e = atc[i]!;
    if (e.ipfn >= first && e.ipfn <= last && (!ssv || e.ssid === ssid)) return true;
  }
  return false;
}

/** The endpoint purges the range when it completes the invalidation, at `at`. */
function queuePurge(
  w: PciWorld,
  ep: Endpoint,
  req: number,
  first: number,
  last: number,
  ssid: number,
  ssv: boolean,
  at: number,
  deadlineNs: number,
): void {
  if (ep.purges.length === 0) w.pci.purging.push(ep.bdf);
  ep.purges.push({ atNs: at, req, first, last, ssid, ssv, late: at > deadlineNs });
  if (at < w.pci.nextPurgeNs) w.pci.nextPurgeNs = at;
}

/** The PCIe fabric as the SMMU sees it: the endpoints answer its ATS invalidations. */
export const PCIE_BUS: PcieBus = {
  atcInv: respondAtcInv,
  settle: (w) => settlePurges(w as PciWorld),
};

/**
 * Apply every purge whose completion time has come (called before each
 * event is handled, and at the end of a run to a given time), so any DMA or
 * view at time t sees the ATC as it is at t.
 */
export function settlePurges(w: PciWorld): void {
  const now = w.s.nowNs;
  if (w.pci.nextPurgeNs > now) return;
  let next = Number.POSITIVE_INFINITY;
  const still: string[] = [];
  for (const bdf of w.pci.purging) {
    const ep = w.pci.endpoints[bdf]!;
    let keep = 0;
    for (let i = 0; i < ep.purges.length; i++) {
      const p = ep.purges[i]!;
      if (p.atNs > now) {
        ep.purges[keep++] = p;
        if (p.atNs < next) next = p.atNs;
        continue;
      }
      let removed = 0;
      if (ep.atc.length > 0) {
        const before = ep.atc.length;
        ep.atc = ep.atc.filter((e) => !(e.ipfn >= p.first && e.ipfn <= p.last && (!p.ssv || e.ssid === p.ssid)));
        removed = before - ep.atc.length;
      }
      if (w.traceOn) emit(w, p.late ? 'atc.inv.late' : 'atc.purge', { bdf: ep.bdf, req: p.req, removed, atNs: p.atNs });
    }
    ep.purges.length = keep;
    if (keep > 0) still.push(bdf);
  }
  w.pci.purging = still;
  w.pci.nextPurgeNs = next;
}

export function setFault(w: PciWorld, ep: Endpoint, kind: 'atc-unresponsive' | 'atc-slow' | 'atc-recover', latencyNs = 0): void {
  ep.mode = kind === 'atc-unresponsive' ? 'unresponsive' : kind === 'atc-slow' ? 'slow' : 'ok';
  ep.slowNs = kind === 'atc-slow' ? latencyNs : 0;
  emit(w, 'fault.inject', { bdf: ep.bdf, kind, latencyUs: latencyNs / 1000 });
}

export type { DmaOutcome };

/**
 * One DMA by the endpoint. With ATS enabled: an ATC hit is sent as a
 * Translated request; a miss sends an ATS Translation Request first (filling
 * the ATC) or falls back to an Untranslated request on UR.
 */
export function doDma(
  w: PciWorld,
  ep: Endpoint,
  iova: number,
  write: boolean,
  ssid: number,
): { outcome: DmaOutcome; detail: string } {
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
    const pt = m.pgtables.get(entry.ttb);
    const reused = m.gen[entry.pfn] !== entry.gen;
    const stale = reused || pt?.get(ipfn) !== entry.pfn;
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
      return {
        outcome,
        detail: corrupt
          ? `wrote page ${entry.pfn} through a stale ATC entry; the page now belongs to someone else`
          : `wrote page ${entry.pfn} through a stale ATC entry`,
      };
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
export function endpointResetEffect(w: PciWorld, ep: Endpoint): void {
  ep.atc = [];
  ep.purges = [];
  ep.mode = 'ok';
  ep.slowNs = 0;
  ep.atsEnabled = false;
  note(w, 'endpoint.reset', { bdf: ep.bdf });
}
