/**
 * The PCIe endpoints' trace events, their words, and the typed
 * emit()/note() the endpoints record them with.
 */
import { emit as record, note as recordNote, type SimCtx } from '../sim/context.ts';
import type { TraceWordsOf } from '../sim/trace.ts';

/** What became of one DMA (pci/endpoint.ts doDma). */
export type DmaOutcome = 'ok' | 'blocked' | 'stale' | 'corrupt' | 'fault' | 'absent';

export interface PciTrace {
  /** An ATS invalidation gets Unsupported Request: no function at the SID, or ATS disabled. */
  'atc.inv.ur': { req: number; sid?: number; bdf?: string; why: string };
  /** The endpoint does not answer an ATS invalidation. */
  'atc.inv.ignored': { req: number; bdf: string; why: string };
  /** The endpoint takes an ATS invalidation and will complete it at cplAtNs. */
  'atc.inv.recv': { req: number; bdf: string; cplAtNs: number };
  /** The endpoint purges its ATC for an invalidation, when it completes it. */
  'atc.purge': { bdf: string; req: number; removed: number; atNs: number };
  /** The same, for an invalidation the SMMU had already given up on. */
  'atc.inv.late': { bdf: string; req: number; removed: number; atNs: number };
  /** A fault injected into how the endpoint answers ATC invalidations. */
  'fault.inject': { bdf: string; kind: 'atc-unresponsive' | 'atc-slow' | 'atc-recover'; latencyUs: number };
  /** An ATS translation fills the endpoint's ATC. */
  'atc.fill': { bdf: string; ssid: number; ipfn: number; pfn: number };
  /** A DMA by the endpoint and what became of it. */
  dma: {
    bdf: string;
    iova: number;
    write: boolean;
    outcome: DmaOutcome;
    via?: string;
    pfn?: number;
    detail?: string;
    owner?: number;
    stale?: boolean;
  };
  /** The function comes out of a reset that took place. */
  'endpoint.reset': { bdf: string };
}

/** Record an endpoint event (see PciTrace); it becomes the cause of what follows. */
export function emit<K extends keyof PciTrace>(c: SimCtx, kind: K, d: PciTrace[K], cause?: number): number {
  return record(c, kind, d, cause);
}

/** Record an endpoint event as a side note (the current cause stays). */
export function note<K extends keyof PciTrace>(c: SimCtx, kind: K, d: PciTrace[K], cause?: number): number {
  return recordNote(c, kind, d, cause);
}

const hex = (v: number): string => `0x${v.toString(16)}`;

function dmaWords(d: PciTrace['dma']): string {
  let how: string;
  if (d.outcome === 'corrupt') how = `CORRUPTS page ${d.pfn} (now owned by someone else)`;
  else if (d.outcome === 'blocked') how = `is blocked (${d.detail})`;
  else if (d.outcome === 'fault') how = `faults (${d.detail})`;
  else how = `ok${d.pfn !== undefined ? ` → page ${d.pfn}` : ''}${d.stale ? ' through a stale ATC entry' : ''}`;
  return `${d.bdf} DMA ${d.write ? 'write' : 'read'} ${hex(d.iova)} ${how}`;
}

export const PCI_WORDS: TraceWordsOf<PciTrace> = {
  'atc.inv.ur': { layer: 'pci', describe: (d) => `ATC invalidation #${d.req} gets Unsupported Request (${d.why})` },
  'atc.inv.ignored': { layer: 'pci', describe: (d) => `${d.bdf} does not answer ATC invalidation #${d.req} (${d.why})` },
  'atc.inv.recv': { layer: 'pci', describe: (d) => `${d.bdf} purges its ATC and will complete #${d.req}` },
  'atc.purge': {
    layer: 'pci',
    describe: (d) => `${d.bdf} drops ${d.removed} ATC entr${d.removed === 1 ? 'y' : 'ies'} for invalidation #${d.req}`,
  },
  'atc.inv.late': {
    layer: 'pci',
    describe: (d) => `${d.bdf} finally purges for invalidation #${d.req}, after the SMMU gave up on it`,
  },
  'fault.inject': {
    layer: 'pci',
    describe: (d) =>
      `${d.bdf} now ${d.kind === 'atc-unresponsive' ? 'ignores ATC invalidations' : d.kind === 'atc-slow' ? `answers ATC invalidations after ${d.latencyUs} µs` : 'answers ATC invalidations again'}`,
    mark: (d) => ({ kind: 'fault', label: `${d.bdf}: ${d.kind}` }),
  },
  'atc.fill': {
    layer: 'pci',
    describe: (d) => `${d.bdf} caches a translation: IOVA page ${hex(d.ipfn)} → page ${d.pfn}`,
    detail: true,
  },
  dma: {
    layer: 'pci',
    describe: dmaWords,
    mark: (d) => (d.outcome === 'corrupt' ? { kind: 'corrupt', label: `${d.bdf}: memory corrupted (page ${d.pfn})` } : null),
  },
  'endpoint.reset': { layer: 'pci', describe: (d) => `${d.bdf} comes out of reset: ATC empty, ATS off` },
};
