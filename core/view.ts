/**
 * A plain-data picture of the whole emulated machine at the current moment,
 * for views: registers and the CMDQ ring, GERROR/GERRORN, the stream table
 * decoded, IOMMU groups and group_devices, endpoints with their ATC, physical
 * memory, kernel tasks and locks, and the counters. It holds no references
 * into the simulation, so it can cross to another thread.
 */
import type { Simulation } from './engine.ts';
import { cerrorName } from './hw/regs.ts';
import {
  ARM_SMMU_CMDQ_CONS,
  ARM_SMMU_CMDQ_PROD,
  ARM_SMMU_CR0,
  ARM_SMMU_EVTQ_CONS,
  ARM_SMMU_EVTQ_PROD,
  ARM_SMMU_GERROR,
  ARM_SMMU_GERRORN,
  CMDQ_CONS_ERR_MASK,
  CMDQ_CONS_ERR_SHIFT,
  CR0_ATSCHK,
  CR0_CMDQEN,
  CR0_SMMUEN,
  GERROR_BITS,
  GERROR_CMDQ_ERR,
} from './hw/regs.ts';
import { readReg, steForTranslation, steL2 } from './hw/smmu.ts';
import {
  readCd,
  readSte,
  STE_CONFIG_NAMES,
  STRTAB_STE_0_CFG_ABORT,
  STRTAB_STE_0_CFG_BYPASS,
  STRTAB_STE_0_CFG_S1_TRANS,
} from './hw/ste.ts';
import { PAGE_FREE, PAGE_KERNEL, PTE_INVALID } from './hw/memory.ts';
import { BLOCKED_DOMAIN } from './kernel/state.ts';
import type { Blocked } from './machines/groupDevice.machine.ts';

export interface GerrorBitView {
  bit: number;
  name: string;
  gerror: number;
  gerrorn: number;
  active: boolean;
}

export interface OutstandingAtcInv {
  req: number;
  sid: number;
  bdf: string | null;
  sentNs: number;
  deadlineNs: number;
  cplNs: number;
}

export interface CmdqView {
  log2: number;
  /** CMDQ_PROD and CMDQ_CONS register values (CONS with its ERR field). */
  prod: number;
  cons: number;
  /** CMDQ_CONS.ERR and its CERROR name. */
  err: number;
  errName: string;
  /** GERROR.CMDQ_ERR is active (CONS points at the command in error). */
  errActive: boolean;
  /** The ring: four words per slot. */
  words: Uint32Array;
  /** The consumer is parked at a CMD_SYNC waiting for ATC invalidations. */
  syncWaiting: boolean;
  /** ATC invalidations sent and not complete (known with the trace on). */
  outstanding: OutstandingAtcInv[];
  enabled: boolean;
}

export interface SteView {
  sid: number;
  bdf: string | null;
  v: number;
  config: number;
  configName: string;
  eats: number;
  s1ContextPtr: number;
  /** The domain the STE leads to (through the CD's TTB0), or null. */
  domain: string | null;
  /** What the SMMU has cached for this SID (null when not cached). */
  cached: { v: number; config: number; eats: number } | null;
}

export interface GdevView {
  bdf: string;
  group: number;
  driver: string;
  sids: number[];
  present: boolean;
  blocked: Blocked;
  resetDepth: number;
  brokenPending: boolean;
  workQueued: boolean;
  atsCap: boolean;
  atsEnabled: boolean;
  atsBroken: boolean;
  /** The domain the driver attached the RID to (`blocked` for the blocking domain). */
  domain: string | null;
  pasids: Record<number, string>;
  eats: number[];
}

export interface GroupView {
  id: number;
  domain: string | null;
  defaultDomain: string | null;
  recoveryCnt: number;
  pasidArray: Record<number, string>;
  devices: string[];
}

export interface AtcEntryView {
  ssid: number;
  ipfn: number;
  pfn: number;
  write: boolean;
  stale: boolean;
  reused: boolean;
}

export interface EndpointView {
  bdf: string;
  sids: number[];
  driver: string;
  present: boolean;
  mode: 'ok' | 'unresponsive' | 'slow';
  slowUs: number;
  atsCap: boolean;
  atsEnabled: boolean;
  resetting: boolean;
  atc: AtcEntryView[];
  stats: { dmaOk: number; dmaBlocked: number; staleWrites: number; atcHits: number; atcMisses: number };
}

export interface DomainView {
  id: string;
  type: string;
  asid: number;
  mappedPages: number;
  invs: number;
  /** IOVA page numbers mapped (sorted), and the physical page of each. */
  mapped: Array<[ipfn: number, pfn: number]>;
}

export interface MemoryView {
  pages: number;
  /** Owner per page: -1 free, -2 kernel (reused), else a domain index. */
  owner: number[];
  /** Domain id per domain index. */
  domainNames: string[];
  corrupted: number[];
  /** Pages an ATC entry still points at after the page changed hands. */
  staleTargets: number[];
}

export interface TaskView {
  id: number;
  name: string;
  fn: string;
  stack: string[];
  waiting: string | null;
}
export interface LockView {
  name: string;
  owner: string | null;
  waiters: string[];
}

export interface View {
  /** Events processed so far. */
  events: number;
  tNs: number;
  policyLabel: string;
  atsChk: boolean;
  smmuEnabled: boolean;
  sfm: boolean;
  cr0: number;
  gerror: number;
  gerrorn: number;
  gerrorBits: GerrorBitView[];
  gerrorIrqPending: boolean;
  cmdq: CmdqView;
  evtq: { prod: number; cons: number };
  stes: SteView[];
  groups: GroupView[];
  gdevs: GdevView[];
  endpoints: EndpointView[];
  domains: DomainView[];
  memory: MemoryView;
  tasks: TaskView[];
  locks: LockView[];
  stats: ReturnType<Simulation['result']>['stats'];
}

function domainByTtb(sim: Simulation, ttb: number): string | null {
  for (const d of sim.world.k.domains.values()) if (d.ttb === ttb && d.type === 'paging') return d.id;
  return null;
}

function describeWait(
  sim: Simulation,
  t: { wait: null | { kind: string; lock?: string; cond?: { type: string } } },
): string | null {
  const wt = t.wait;
  if (!wt) return null;
  if (wt.kind === 'lock') {
    const owner = sim.world.k.locks[wt.lock!]?.owner;
    const on = owner !== null && owner !== undefined ? sim.world.k.tasks.find((t) => t.id === owner)?.name : undefined;
    return `waiting for ${wt.lock}${on ? ` (held by ${on})` : ''}`;
  }
  if (wt.kind === 'poll') return wt.cond?.type === 'cmdq_space' ? 'polling for CMDQ space' : 'polling for its CMD_SYNC';
  if (wt.kind === 'sleep') return 'sleeping';
  return 'runnable';
}

/** Build the view of `sim` as it is now. */
export function buildView(sim: Simulation): View {
  const w = sim.world;
  const k = w.k;
  const regs = (off: number) => readReg(w, off);
  const gerror = regs(ARM_SMMU_GERROR);
  const gerrorn = regs(ARM_SMMU_GERRORN);
  const cons = regs(ARM_SMMU_CMDQ_CONS);
  const err = (cons >>> CMDQ_CONS_ERR_SHIFT) & CMDQ_CONS_ERR_MASK;
  const cr0 = regs(ARM_SMMU_CR0);

  const outstanding: OutstandingAtcInv[] = w.smmu.atcOut.traced
    .filter((r) => r.cplNs > w.s.nowNs || r.cplNs > r.deadlineNs)
    .map((r) => ({
      req: r.id,
      sid: r.sid,
      bdf: k.streams[r.sid] ?? w.pci.sidToBdf[r.sid] ?? null,
      sentNs: r.sentNs,
      deadlineNs: r.deadlineNs,
      cplNs: r.cplNs,
    }));

  const stes: SteView[] = [];
  for (const ep of Object.values(w.pci.endpoints)) {
    for (const sid of ep.sids) {
      const loc = steL2(w, sid, false);
      if (!loc) continue;
      const f = readSte(loc.arr, loc.base);
      let domain: string | null = null;
      if (f.config === STRTAB_STE_0_CFG_S1_TRANS) {
        const cdt = w.mem.cdTables[f.s1ContextPtr];
        if (cdt) {
          const cd = readCd(cdt, 0);
          if (cd.v) domain = domainByTtb(sim, cd.ttb0);
        }
      } else if (f.config === STRTAB_STE_0_CFG_ABORT) domain = 'blocked';
      else if (f.config === STRTAB_STE_0_CFG_BYPASS) domain = 'bypass';
      const cachedWords = w.smmu.steCache[sid];
      const cached = cachedWords ? steForTranslation(w, sid) : null;
      stes.push({
        sid,
        bdf: ep.bdf,
        v: f.v,
        config: f.config,
        configName: STE_CONFIG_NAMES[f.config] ?? String(f.config),
        eats: f.eats,
        s1ContextPtr: f.s1ContextPtr,
        domain,
        cached: cached ? { v: cached.v, config: cached.config, eats: cached.eats } : null,
      });
    }
  }
  stes.sort((a, b) => a.sid - b.sid);

  const gdevs: GdevView[] = [];
  for (const gid of k.groupOrder) {
    const g = k.groups[gid]!;
    const all = Object.values(k.gdevs).filter((d) => d.group === gid);
    for (const gd of all) {
      const m = k.masters[gd.bdf]!;
      const ep = w.pci.endpoints[gd.bdf]!;
      gdevs.push({
        bdf: gd.bdf,
        group: g.id,
        driver: m.driver,
        sids: [...m.sids],
        present: gd.present,
        blocked: gd.m.value,
        resetDepth: gd.m.context.reset_depth,
        brokenPending: gd.m.context.broken_pending,
        workQueued: gd.workQueued,
        atsCap: m.atsCap,
        atsEnabled: ep.atsEnabled,
        atsBroken: m.atsBroken,
        domain: m.domain === BLOCKED_DOMAIN ? 'blocked' : m.domain,
        pasids: { ...m.pasids },
        eats: m.sids.map((sid) => {
          const loc = steL2(w, sid, false);
          return loc ? readSte(loc.arr, loc.base).eats : 0;
        }),
      });
    }
  }

  const groups: GroupView[] = k.groupOrder.map((gid) => {
    const g = k.groups[gid]!;
    return {
      id: g.id,
      domain: g.domain === BLOCKED_DOMAIN ? 'blocked' : g.domain,
      defaultDomain: g.defaultDomain,
      recoveryCnt: g.recoveryCnt,
      pasidArray: { ...g.pasidArray },
      devices: gdevs.filter((d) => d.group === gid).map((d) => d.bdf),
    };
  });

  const mem = w.mem;
  const staleTargets = new Set<number>();
  const endpoints: EndpointView[] = Object.values(w.pci.endpoints).map((ep) => ({
    bdf: ep.bdf,
    sids: [...ep.sids],
    driver: ep.driver,
    present: ep.present,
    mode: ep.mode,
    slowUs: ep.slowNs / 1000,
    atsCap: ep.atsCap,
    atsEnabled: ep.atsEnabled,
    resetting: ep.resetting,
    atc: ep.atc.map((e) => {
      const pt = mem.pgtables.get(e.ttb);
      const reused = mem.gen[e.pfn] !== e.gen;
      const stale = reused || pt?.get(e.ipfn) !== e.pfn;
      if (reused) staleTargets.add(e.pfn);
      return { ssid: e.ssid, ipfn: e.ipfn, pfn: e.pfn, write: e.write, stale, reused };
    }),
    stats: { ...ep.stats },
  }));

  const domainNames: string[] = [];
  for (const d of k.domains.values()) if (d.index >= 0) domainNames[d.index] = d.id;

  const domains: DomainView[] = [...k.domains.values()]
    .filter((d) => d.type !== 'blocked')
    .map((d) => {
      const mapped = [...d.mapped].filter(([, pfn]) => pfn !== PTE_INVALID).sort((a, b) => a[0] - b[0]);
      return { id: d.id, type: d.type, asid: d.asid, mappedPages: mapped.length, invs: d.invs.length, mapped };
    });

  const corrupted: number[] = [];
  for (let i = 0; i < mem.pages; i++) if (mem.corrupted[i]) corrupted.push(i);

  const tasks: TaskView[] = k.tasks.map((t) => ({
    id: t.id,
    name: t.name,
    fn: t.stack[t.stack.length - 1]?.fn ?? '',
    stack: t.stack.map((f) => f.fn),
    waiting: describeWait(sim, t),
  }));
  const locks: LockView[] = Object.entries(k.locks)
    .filter(([, l]) => l.owner !== null || l.waiters.length > 0)
    .map(([name, l]) => ({
      name,
      owner: l.owner === null ? null : (k.tasks.find((t) => t.id === l.owner)?.name ?? `task ${l.owner}`),
      waiters: l.waiters.map((id) => k.tasks.find((t) => t.id === id)?.name ?? `task ${id}`),
    }));

  return {
    events: sim.eventsProcessed,
    tNs: w.s.nowNs,
    policyLabel: sim.policy.label,
    atsChk: (cr0 & CR0_ATSCHK) !== 0,
    smmuEnabled: (cr0 & CR0_SMMUEN) !== 0,
    sfm: w.smmu.sfm,
    cr0,
    gerror,
    gerrorn,
    gerrorBits: GERROR_BITS.map(({ bit, name }) => {
      const g = (gerror >>> bit) & 1;
      const n = (gerrorn >>> bit) & 1;
      return { bit, name, gerror: g, gerrorn: n, active: g !== n };
    }),
    gerrorIrqPending: w.smmu.gerrorIrqPending,
    cmdq: {
      log2: w.smmu.cmdqShift,
      prod: regs(ARM_SMMU_CMDQ_PROD),
      cons,
      err,
      errName: cerrorName(err),
      errActive: ((gerror ^ gerrorn) & GERROR_CMDQ_ERR) !== 0,
      words: w.smmu.cmdq.slice(),
      syncWaiting: w.smmu.consumer.waitingSync,
      outstanding,
      enabled: (cr0 & CR0_CMDQEN) !== 0,
    },
    evtq: { prod: regs(ARM_SMMU_EVTQ_PROD), cons: regs(ARM_SMMU_EVTQ_CONS) },
    stes,
    groups,
    gdevs,
    endpoints,
    domains,
    memory: {
      pages: mem.pages,
      owner: Array.from(mem.owner),
      domainNames,
      corrupted,
      staleTargets: [...staleTargets].sort((a, b) => a - b),
    },
    tasks,
    locks,
    stats: sim.stats(),
  };
}

export { PAGE_FREE, PAGE_KERNEL };
