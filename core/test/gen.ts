/**
 * fast-check generators of random scenarios (`smmu-scenario/1`) for the
 * property tests in property.test.ts.
 *
 * Everything is drawn as plain numbers and indices first (an "abstract"
 * scenario) and only then turned into a scenario: device, group and domain
 * references are indices taken modulo the number of things that exist, so
 * fast-check can shrink the topology and the steps independently and every
 * shrunk value is still a valid scenario. `toScenario()` validates what it
 * builds and throws when validation fails: a generated scenario that does
 * not validate is a bug in this file, never an input the property should see.
 */
import fc from 'fast-check';
import { formatErrors, validateScenario } from '../scenario/validate.ts';
import {
  FAULT_KINDS,
  RESET_METHODS,
  SCENARIO_FORMAT,
  type AttachStep,
  type DeviceSpec,
  type DmaStep,
  type FaultKind,
  type FaultStep,
  type GroupSpec,
  type ResetMethod,
  type ResetStep,
  type Scenario,
  type Step,
} from '../scenario/types.ts';

/** Map/unmap/DMA addresses come from this small set so unmaps and DMAs hit mapped ranges. */
export const IOVAS = [0x10000, 0x20000, 0x30000, 0x40000] as const;
/** At most this many pages per map or unmap (less than the 16-page stride between IOVAS). */
export const MAX_MAP_PAGES = 4;
/** At most this many steps per scenario (a motif of several steps counts for each). */
export const MAX_STEPS = 30;
/** Steps happen in this window of virtual time (µs). */
export const MAX_AT_US = 20_000;

export const DOMAIN_IDS = ['dma0', 'dma1', 'dma2'] as const;
/** An identity domain that attach steps may pick (never a group's boot domain, never mapped). */
export const IDENTITY_DOMAIN = 'ident';
const DRIVERS = ['nvme', 'mlx5_core', 'ixgbe', 'idxd', 'pci'] as const;
const RESET_RESULTS = [0, '-ENOTTY', '-ETIMEDOUT', '-EIO'] as const;

const hex = (n: number): string => '0x' + n.toString(16);

/* --------------------------------------------------------------- timings */

export interface Timings {
  cmdqLog2Size: number;
  atcInvTimeoutUs: number;
  gerrorIrqLatencyUs: number;
  cmdCostNs: number;
  workerLatencyUs: number;
  /** undefined: the default ARM_SMMU_POLL_TIMEOUT_US (1 s). */
  pollTimeoutUs: number | undefined;
  atsChk: boolean;
}

/**
 * Any timing, including the ones v4 documents it cannot handle: a poll
 * timeout shorter than the ATC invalidation timeout (seed 003 #12 FIXME) and
 * a GERROR ISR that is later than the poll (seed 003 #15). Invariants must
 * hold under all of them; only memory safety may be lost.
 */
export const anyTimings: fc.Arbitrary<Timings> = fc.record({
  cmdqLog2Size: fc.integer({ min: 3, max: 10 }),
  atcInvTimeoutUs: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 50, max: 3000 })),
  gerrorIrqLatencyUs: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 3000 })),
  cmdCostNs: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 5000 })),
  workerLatencyUs: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 3000 })),
  pollTimeoutUs: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 3 },
    { arbitrary: fc.integer({ min: 50, max: 20_000 }), weight: 1 },
  ),
  atsChk: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 }),
});

/**
 * Timings inside the two conditions under which the v4 series (seed 003)
 * documents that it protects memory, with CR0.ATSCHK = 1:
 *
 * 1. The device's ATC invalidation timeout is shorter than the issuer's poll
 *    timeout (seed 003 #12, the FIXME in arm_smmu_cmdq_issue_cmdlist(): when
 *    ARM_SMMU_POLL_TIMEOUT_US expires first, the issuer returns -ETIMEDOUT
 *    while the ATC_INV is still pending, no atc_sync_timeouts bit is set, and
 *    the unmap frees its pages with stale ATC entries still live).
 * 2. The GERROR ISR latency plus the ATC timeout stay well below the poll
 *    timeout (seed 003 #15: co-clearing after a poll timeout rescues the one
 *    issuer whose CMD_SYNC was the one in error, not a second issuer queued
 *    behind the stalled queue whose own poll expires meanwhile).
 *
 * Here the poll timeout is the default 1 s and ATC timeout + ISR latency is
 * at most 3 ms, so even a few hundred stalled CMD_SYNCs queued one behind the
 * other stay inside one poll period.
 */
export const v4SafeTimings: fc.Arbitrary<Timings> = fc.record({
  cmdqLog2Size: fc.integer({ min: 3, max: 10 }),
  atcInvTimeoutUs: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 50, max: 2000 })),
  gerrorIrqLatencyUs: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 1000 })),
  cmdCostNs: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 5000 })),
  workerLatencyUs: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 3000 })),
  pollTimeoutUs: fc.constant(undefined),
  atsChk: fc.constant(true),
});

/* ---------------------------------------------------- abstract scenarios */

interface AbsDevice {
  ats: boolean;
  pasid: boolean;
  nsids: number;
  driver: number;
}

type AbsOp =
  | { op: 'map' | 'unmap'; dom: number; iova: number; pages: number }
  | { op: 'dma'; dev: number; iova: number; page: number; write: boolean; pasid: number | null }
  | { op: 'fault'; dev: number; kind: FaultKind; latencyUs: number }
  | {
      op: 'reset';
      dev: number;
      method: ResetMethod;
      result: (typeof RESET_RESULTS)[number];
      probe: boolean | null;
      durationUs: number | null;
    }
  | { op: 'attach'; group: number; dom: number; pasid: number | null }
  | { op: 'deferred-attach' | 'report-broken' | 'unplug'; dev: number }
  | { op: 'smmu-fault'; kind: 'sfm' | 'cmdq-abort' }
  | { op: 'cmd'; which: number; dev: number }
  | {
      op: 'stale-motif';
      dom: number;
      dev: number;
      iova: number;
      pages: number;
      page: number;
      slow: number | null;
      gaps: [number, number, number, number, number];
      remap: boolean;
    };

interface AbsStep {
  cluster: number;
  offset: number;
  body: AbsOp;
}

export interface AbsScenario {
  seed: number;
  timings: Timings;
  pages: number;
  devices: AbsDevice[];
  bdfs: number[];
  sids: number[];
  ngroups: number;
  groupIds: number[];
  groupOf: number[];
  ndomains: number;
  groupDomain: number[];
  identity: boolean;
  clusters: number[];
  steps: AbsStep[];
}

const dev = fc.nat({ max: 5 });
const iovaIdx = fc.nat({ max: IOVAS.length - 1 });
const pasidArb = fc.integer({ min: 1, max: 15 });

/**
 * Step bodies: every op of SCENARIO-FORMAT.md (raw commands rare), plus a
 * "stale motif" that expands to map, DMA write, fault, unmap, DMA write and
 * maybe a re-map of one range by one device with random gaps, so the
 * pattern that corrupts memory (seed 003 cover letter) is common enough for
 * property 3 to bite, racing with whatever else the scenario does.
 */
const absOp: fc.Arbitrary<AbsOp> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('map' as const),
      dom: fc.nat({ max: 2 }),
      iova: iovaIdx,
      pages: fc.integer({ min: 1, max: MAX_MAP_PAGES }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('unmap' as const),
      dom: fc.nat({ max: 2 }),
      iova: iovaIdx,
      pages: fc.integer({ min: 1, max: MAX_MAP_PAGES }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('dma' as const),
      dev,
      iova: iovaIdx,
      page: fc.nat({ max: MAX_MAP_PAGES - 1 }),
      write: fc.boolean(),
      pasid: fc.option(pasidArb, { nil: null, freq: 4 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('fault' as const),
      dev,
      kind: fc.constantFrom(...FAULT_KINDS),
      latencyUs: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 5000 })),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('reset' as const),
      dev,
      method: fc.constantFrom(...RESET_METHODS),
      result: fc.oneof(
        { weight: 3, arbitrary: fc.constant(0 as const) },
        { weight: 2, arbitrary: fc.constantFrom(...RESET_RESULTS) },
      ),
      probe: fc.option(fc.boolean(), { nil: null, freq: 3 }),
      durationUs: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: null, freq: 8 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('attach' as const),
      group: fc.nat({ max: 3 }),
      dom: fc.nat({ max: 3 }),
      pasid: fc.option(pasidArb, { nil: null, freq: 3 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('deferred-attach' as const, 'report-broken' as const), dev }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unplug' as const), dev }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cmd' as const), which: fc.nat({ max: 3 }), dev }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('stale-motif' as const),
      dom: fc.nat({ max: 2 }),
      dev,
      iova: iovaIdx,
      pages: fc.integer({ min: 1, max: MAX_MAP_PAGES }),
      page: fc.nat({ max: MAX_MAP_PAGES - 1 }),
      slow: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: null, freq: 4 }),
      gaps: fc.tuple(
        fc.nat({ max: 300 }),
        fc.nat({ max: 300 }),
        fc.nat({ max: 300 }),
        fc.nat({ max: 6000 }),
        fc.nat({ max: 6000 }),
      ),
      remap: fc.boolean(),
    }),
  },
);
/** SFM and CMDQ fetch aborts stop or stall the whole SMMU: rare (about one scenario in ten). */
const absRareOp: fc.Arbitrary<AbsOp> = fc.record({
  op: fc.constant('smmu-fault' as const),
  kind: fc.constantFrom('sfm' as const, 'cmdq-abort' as const),
});

/**
 * Step times: a few cluster centres in 0..20 000 µs and small offsets from
 * them, so steps land within a CMD_SYNC, an ATC timeout or an ISR latency of
 * one another (the races the series is about).
 */
const absStep: fc.Arbitrary<AbsStep> = fc.record({
  cluster: fc.nat({ max: 3 }),
  offset: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 4000 })),
  body: fc.oneof({ weight: 150, arbitrary: absOp }, { weight: 1, arbitrary: absRareOp }),
});

const absDevice: fc.Arbitrary<AbsDevice> = fc.record({
  ats: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  pasid: fc.boolean(),
  nsids: fc.integer({ min: 1, max: 3 }),
  driver: fc.nat({ max: DRIVERS.length - 1 }),
});

/** StreamIDs: mostly small and dense (one L2 stream table), sometimes anywhere in 16 bits. */
const sidArb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 63 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) },
);
/** A BDF code: bus 1..0x3f, device 0..31, function 0..7. */
const bdfArb = fc
  .record({ bus: fc.integer({ min: 1, max: 0x3f }), d: fc.nat({ max: 31 }), fn: fc.nat({ max: 7 }) })
  .map(({ bus, d, fn }) => (bus << 8) | (d << 3) | fn);

export interface GenOptions {
  timings?: fc.Arbitrary<Timings>;
  minSteps?: number;
  maxSteps?: number;
}

export function absScenario(opts: GenOptions = {}): fc.Arbitrary<AbsScenario> {
  return fc.record({
    seed: fc.nat({ max: 0xffffffff }),
    timings: opts.timings ?? anyTimings,
    pages: fc.integer({ min: 16, max: 64 }),
    devices: fc.array(absDevice, { minLength: 1, maxLength: 6 }),
    bdfs: fc.uniqueArray(bdfArb, { minLength: 6, maxLength: 6 }),
    sids: fc.uniqueArray(sidArb, { minLength: 18, maxLength: 18 }),
    ngroups: fc.integer({ min: 1, max: 4 }),
    groupIds: fc.uniqueArray(fc.nat({ max: 40 }), { minLength: 4, maxLength: 4 }),
    groupOf: fc.array(fc.nat({ max: 3 }), { minLength: 6, maxLength: 6 }),
    ndomains: fc.integer({ min: 1, max: 3 }),
    groupDomain: fc.array(fc.nat({ max: 2 }), { minLength: 4, maxLength: 4 }),
    identity: fc.boolean(),
    clusters: fc.array(fc.nat({ max: MAX_AT_US }), { minLength: 1, maxLength: 4 }),
    steps: fc.array(absStep, { minLength: opts.minSteps ?? 5, maxLength: opts.maxSteps ?? 30 }),
  });
}

export function bdfString(code: number): string {
  const bus = (code >> 8) & 0xff;
  const d = (code >> 3) & 0x1f;
  const fn = code & 7;
  return `0000:${bus.toString(16).padStart(2, '0')}:${d.toString(16).padStart(2, '0')}.${fn}`;
}

function smmuOf(t: Timings): NonNullable<Scenario['smmu']> {
  const s: NonNullable<Scenario['smmu']> = {
    cmdqLog2Size: t.cmdqLog2Size,
    atcInvTimeoutUs: t.atcInvTimeoutUs,
    gerrorIrqLatencyUs: t.gerrorIrqLatencyUs,
    cmdCostNs: t.cmdCostNs,
  };
  if (t.pollTimeoutUs !== undefined) s.pollTimeoutUs = t.pollTimeoutUs;
  if (!t.atsChk) s.atsChk = false;
  return s;
}

/** Turn an abstract scenario into a scenario file (validated). */
export function toScenario(a: AbsScenario, name = 'generated'): Scenario {
  const n = a.devices.length;
  const ng = Math.min(a.ngroups, n);
  const devices: DeviceSpec[] = a.devices.map((d, i) => ({
    bdf: bdfString(a.bdfs[i]!),
    sids: a.sids.slice(i * 3, i * 3 + d.nsids),
    ats: d.ats,
    pasid: d.pasid,
    driver: DRIVERS[d.driver]!,
  }));
  // The first `ng` devices open one group each; the others join any group.
  const gIndexOf = devices.map((_, i) => (i < ng ? i : a.groupOf[i]! % ng));
  const domains = DOMAIN_IDS.slice(0, a.ndomains).map((id) => ({ id, type: 'paging' as const }));
  const allDomains: Array<{ id: string; type: 'paging' | 'identity' }> = a.identity
    ? [...domains, { id: IDENTITY_DOMAIN, type: 'identity' }]
    : domains;
  const groups: GroupSpec[] = [];
  for (let g = 0; g < ng; g++) {
    groups.push({
      id: a.groupIds[g]!,
      domain: domains[a.groupDomain[g]! % a.ndomains]!.id,
      devices: devices.filter((_, i) => gIndexOf[i] === g),
    });
  }
  const devAt = (k: number): DeviceSpec => devices[k % n]!;

  const clamp = (t: number): number => Math.min(MAX_AT_US, t);
  const steps: Step[] = [];
  for (const { cluster, offset, body } of a.steps) {
    const at = clamp(a.clusters[cluster % a.clusters.length]! + offset);
    const more = expand(at, body);
    if (steps.length + more.length > MAX_STEPS) break;
    steps.push(...more);
  }
  function expand(at: number, b: AbsOp): Step[] {
    if (b.op !== 'stale-motif') return [one(at, b)];
    // map, DMA (fills the ATC), the device hangs (or slows), unmap, DMA write, maybe a re-map.
    const d = devAt(b.dev);
    const domain = domains[b.dom % a.ndomains]!.id;
    const iova = hex(IOVAS[b.iova]!);
    const target = hex(IOVAS[b.iova]! + Math.min(b.page, b.pages - 1) * 4096);
    const [g1, g2, g3, g4, g5] = b.gaps;
    const tUnmap = at + g1 + g2 + g3;
    const out: Step[] = [
      { at, op: 'map', domain, iova, pages: b.pages },
      { at: clamp(at + g1), op: 'dma', device: d.bdf, iova: target, write: true },
      b.slow === null
        ? { at: clamp(at + g1 + g2), op: 'fault', device: d.bdf, kind: 'atc-unresponsive' }
        : { at: clamp(at + g1 + g2), op: 'fault', device: d.bdf, kind: 'atc-slow', latencyUs: b.slow },
      { at: clamp(tUnmap), op: 'unmap', domain, iova, pages: b.pages },
      { at: clamp(tUnmap + g4), op: 'dma', device: d.bdf, iova: target, write: true },
    ];
    if (b.remap) out.push({ at: clamp(tUnmap + g5), op: 'map', domain, iova, pages: b.pages });
    return out;
  }
  function one(at: number, b: Exclude<AbsOp, { op: 'stale-motif' }>): Step {
    switch (b.op) {
      case 'map':
        return { at, op: 'map', domain: domains[b.dom % a.ndomains]!.id, iova: hex(IOVAS[b.iova]!), pages: b.pages };
      case 'unmap':
        return { at, op: 'unmap', domain: domains[b.dom % a.ndomains]!.id, iova: hex(IOVAS[b.iova]!), pages: b.pages };
      case 'dma': {
        const d = devAt(b.dev);
        const s: DmaStep = { at, op: 'dma', device: d.bdf, iova: hex(IOVAS[b.iova]! + b.page * 4096), write: b.write };
        if (b.pasid !== null && d.pasid) s.pasid = b.pasid;
        return s;
      }
      case 'fault': {
        const s: FaultStep = { at, op: 'fault', device: devAt(b.dev).bdf, kind: b.kind };
        if (b.kind === 'atc-slow') s.latencyUs = b.latencyUs;
        return s;
      }
      case 'reset': {
        const s: ResetStep = { at, op: 'reset', device: devAt(b.dev).bdf, method: b.method, result: b.result };
        if (b.probe !== null) s.probe = b.probe;
        if (b.durationUs !== null) s.durationUs = b.durationUs;
        return s;
      }
      case 'attach': {
        const dom = allDomains[b.dom % allDomains.length]!;
        const s: AttachStep = { at, op: 'attach', group: groups[b.group % ng]!.id, domain: dom.id };
        if (b.pasid !== null && dom.type === 'paging') s.pasid = b.pasid;
        return s;
      }
      case 'deferred-attach':
        return { at, op: 'deferred-attach', device: devAt(b.dev).bdf };
      case 'report-broken':
        return { at, op: 'report-broken', device: devAt(b.dev).bdf };
      case 'unplug':
        return { at, op: 'unplug', device: devAt(b.dev).bdf };
      case 'smmu-fault':
        return { at, op: 'smmu-fault', kind: b.kind };
      case 'cmd':
        // Raw commands through the driver's issue path. No raw ATC_INV: the
        // no-ATC_INV-to-an-ats_broken-master invariant (seed 003 #18) would
        // rightly flag one aimed at a quarantined master, and the fence only
        // covers the driver's own invalidation paths.
        switch (b.which) {
          case 0:
            return { at, op: 'cmd', cmd: { op: 'CMD_SYNC' } };
          case 1:
            return { at, op: 'cmd', cmd: { op: 'CFGI_STE', sid: devAt(b.dev).sids[0]!, leaf: true } };
          case 2:
            return { at, op: 'cmd', cmd: { op: 'TLBI_NH_ALL' }, sync: false };
          default:
            return { at, op: 'cmd', cmd: { raw: ['0x00000000000000ff', '0x0'] } }; // illegal opcode: CERROR_ILL
        }
    }
  }
  steps.sort((x, y) => x.at - y.at); // stable: ties keep their order (and run in it)

  const s: Scenario = {
    format: SCENARIO_FORMAT,
    name,
    seed: a.seed,
    policy: 'v4',
    smmu: smmuOf(a.timings),
    kernel: { workerLatencyUs: a.timings.workerLatencyUs },
    memory: { pages: a.pages },
    domains: allDomains,
    groups,
    steps,
  };
  return checkValid(s);
}

/** Throw when the scenario does not validate: the generator is wrong then. */
export function checkValid(s: Scenario): Scenario {
  const v = validateScenario(JSON.parse(JSON.stringify(s)));
  if (!v.ok) throw new Error(`generator produced an invalid scenario:\n${formatErrors(v.errors)}\n${JSON.stringify(s)}`);
  return s;
}

/** Random scenarios covering every step op (properties 1–3). */
export function arbScenario(opts: GenOptions = {}): fc.Arbitrary<Scenario> {
  return absScenario(opts).map((a) => toScenario(a));
}

/* ------------------------------------------------ the canonical pattern */

/**
 * The harm the series exists to prevent (seed 003 cover letter): map, DMA
 * (the device caches the translation in its ATC), the device stops
 * answering ATC invalidations, unmap (the pages are freed and reused by the
 * kernel), map again, and a DMA write through the stale ATC entry. A family:
 * the victim's SIDs, IOVA, size, the page it writes, the bystander devices
 * and every timing vary. The final DMA comes after every ATC_INV of the
 * unmap has timed out and the GERROR ISR has handled it, so under baseline
 * the pages are free by then.
 */
export interface CanonicalParams {
  seed: number;
  timings: Timings;
  victimSids: number[];
  victimPasid: boolean;
  bystanders: AbsDevice[];
  sameGroup: boolean;
  iova: number;
  pages: number;
  page: number;
  t0: number;
  gaps: [number, number, number, number];
  readFirst: boolean;
  remapOther: boolean;
}

export const arbCanonicalParams: fc.Arbitrary<CanonicalParams> = fc.record({
  seed: fc.nat({ max: 0xffffffff }),
  timings: v4SafeTimings,
  victimSids: fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 3 }),
  victimPasid: fc.boolean(),
  bystanders: fc.array(absDevice, { minLength: 0, maxLength: 3 }),
  sameGroup: fc.boolean(),
  iova: iovaIdx,
  pages: fc.integer({ min: 1, max: MAX_MAP_PAGES }),
  page: fc.nat({ max: MAX_MAP_PAGES - 1 }),
  t0: fc.nat({ max: 2000 }),
  gaps: fc.tuple(
    fc.integer({ min: 1, max: 500 }),
    fc.integer({ min: 0, max: 500 }),
    fc.integer({ min: 0, max: 500 }),
    fc.integer({ min: 0, max: 5000 }),
  ),
  readFirst: fc.boolean(),
  remapOther: fc.boolean(),
});

export const CANONICAL_VICTIM = '0000:01:00.0';

export function canonicalScenario(p: CanonicalParams): Scenario {
  const t = p.timings;
  const victim: DeviceSpec = { bdf: CANONICAL_VICTIM, sids: p.victimSids, ats: true, pasid: p.victimPasid, driver: 'nvme' };
  const others: DeviceSpec[] = p.bystanders.map((d, i) => ({
    bdf: bdfString(((i + 2) << 8) | 0),
    sids: [1000 + i * 3, 1001 + i * 3, 1002 + i * 3].slice(0, d.nsids),
    ats: d.ats,
    pasid: d.pasid,
    driver: DRIVERS[d.driver]!,
  }));
  const groups: GroupSpec[] = p.sameGroup
    ? [{ id: 0, domain: 'dma0', devices: [victim, ...others] }]
    : [
        { id: 0, domain: 'dma0', devices: [victim] },
        ...others.map((d, i) => ({ id: i + 1, domain: i % 2 ? 'dma0' : 'dma1', devices: [d] })),
      ];
  const iova = IOVAS[p.iova]!;
  const page = Math.min(p.page, p.pages - 1);
  const target = hex(iova + page * 4096);
  const [g1, g2, g3, g4] = p.gaps;
  const tDma = p.t0 + g1;
  const tFault = tDma + g2;
  const tUnmap = tFault + g3;
  // Past the unmap's invalidation: the SMMU reports one CERROR_ATC_INV_SYNC per
  // timed-out ATC_INV, each handled by the GERROR ISR, plus the commands of
  // every batch. Every ATS SID in dma0 counts: with an ATC timeout below the
  // endpoints' response time (2 µs) the healthy bystanders time out as well.
  const atsSidsInDma0 = groups
    .filter((g) => g.domain === 'dma0')
    .flatMap((g) => g.devices)
    .filter((d) => d.ats !== false)
    .reduce((n, d) => n + d.sids.length, 0);
  const tRemap = tUnmap + atsSidsInDma0 * (t.atcInvTimeoutUs + t.gerrorIrqLatencyUs + 20) + 300;
  const tStale = tRemap + 10 + g4;
  const steps: Step[] = [
    { at: p.t0, op: 'map', domain: 'dma0', iova: hex(iova), pages: p.pages },
    ...(p.readFirst ? [{ at: tDma, op: 'dma', device: CANONICAL_VICTIM, iova: target, write: false } as Step] : []),
    { at: tDma, op: 'dma', device: CANONICAL_VICTIM, iova: target, write: true },
    ...others.map((d, i): Step => ({ at: tDma + 1 + i, op: 'dma', device: d.bdf, iova: target, write: true })),
    { at: tFault, op: 'fault', device: CANONICAL_VICTIM, kind: 'atc-unresponsive' },
    { at: tUnmap, op: 'unmap', domain: 'dma0', iova: hex(iova), pages: p.pages },
    { at: tRemap, op: 'map', domain: p.remapOther ? 'dma1' : 'dma0', iova: hex(iova), pages: p.pages },
    { at: tStale, op: 'dma', device: CANONICAL_VICTIM, iova: target, write: true },
  ];
  return checkValid({
    format: SCENARIO_FORMAT,
    name: 'canonical stale-ATC corruption',
    seed: p.seed,
    policy: 'v4',
    smmu: smmuOf(t),
    kernel: { workerLatencyUs: t.workerLatencyUs },
    // Few pages, so the re-map takes back the very pages the unmap freed.
    memory: { pages: 8 + 2 * MAX_MAP_PAGES },
    domains: [
      { id: 'dma0', type: 'paging' },
      { id: 'dma1', type: 'paging' },
    ],
    groups,
    steps,
  });
}

export const arbCanonical: fc.Arbitrary<Scenario> = arbCanonicalParams.map(canonicalScenario);
