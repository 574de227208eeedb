/**
 * The simulation: builds the machine from a scenario (boot), runs events in
 * virtual time, checks invariants after every event, snapshots and restores
 * the whole state, and reports the result (`smmu-result/1`).
 */
import { now, outputsInit, schedule, simInit, type Outputs, type SimCtx } from './sim/context.ts';
import { asTraceRecords, emit, type TraceRecord } from './trace.ts';
import { queuePeek, queuePop, queueRelease } from './sim/queue.ts';
import { eventDone, nextDueNs } from './sim/context.ts';
import { hex32 } from './sim/format.ts';
import {
  ARM_SMMU_CMDQ_CONS,
  ARM_SMMU_CMDQ_PROD,
  ARM_SMMU_CR0,
  ARM_SMMU_GBPA,
  ARM_SMMU_GERROR,
  ARM_SMMU_GERRORN,
  ARM_SMMU_IRQ_CTRL,
  CMDQ_CONS_ERR_MASK,
  CMDQ_CONS_ERR_SHIFT,
  CR0_ATSCHK,
  CR0_CMDQEN,
  CR0_EVTQEN,
  CR0_SMMUEN,
  GBPA_ABORT,
  GERROR_SFM_ERR,
  IRQ_CTRL_EVTQ_IRQEN,
  IRQ_CTRL_GERROR_IRQEN,
  cerrorName,
} from './hw/regs.ts';
import { onConsume, onSyncDeadline, readReg, smmuInit, steL2, writeReg, EVTQ_SHIFT, type HwCfg } from './hw/smmu.ts';
import { readSte } from './hw/ste.ts';
import { memInit } from './hw/memory.ts';
import { PCIE_BUS, pciInit, settlePurges } from './pci/endpoint.ts';
import { gdevInitial } from './machines/drive.ts';
import { isPresetName, resolvePolicy, type Policy, type PolicyFlags, type PresetName } from './policy/index.ts';
import {
  RESET_METHOD_OUTCOMES,
  RESET_OUTCOME_RC,
  SCENARIO_FORMAT,
  errnoString,
  resetOutcomeOf,
  type PolicySpec,
  type ResolvedScenario,
  type Step,
} from './scenario/types.ts';
import { checkPollers, gerrorIrq, onTaskResume, onTaskTimeout, spawn } from './kernel/sched.ts';
import type { Frame } from './kernel/fn.ts';
import { evtqThreadFrame } from './kernel/cmdq.ts';
import { brokenWorkerFrame } from './kernel/iommu.ts';
import { probeMaster, steEatsOf } from './kernel/driver.ts';
import { runStep, type StepArgs } from './kernel/steps.ts';
import { RESET_FN_NAMES } from './kernel/pci.ts';
import { parseIova, parseResult } from './scenario/validate.ts';
import { smmuLog } from './kernel/printk.ts';
import { BLOCKED_DOMAIN, type KDomain, type KernelState, type KWorld } from './kernel/state.ts';

export const RESULT_FORMAT = 'smmu-result/1';
export const CMDQ_BATCH_ENTRIES = 64;
/**
 * The most commands the SMMU consumes in one run, in the runner and in the
 * page alike: a run that would go on (a storm with no end in sight) stops
 * after this many, with a note. The consumer never runs ahead past the
 * limit, so the runner (which consumes runs of commands in one event) and
 * the page (one event per command) stop after the same command, in the
 * same state.
 */
export const DEFAULT_MAX_COMMANDS = 2_000_000;

/**
 * The most events one run takes: a guard against a run that loops without
 * consuming commands or moving virtual time on (it would otherwise never
 * end). The runner counts fewer events than the page for the same run (it
 * consumes runs of commands in one event); no built-in or generated
 * scenario comes near it.
 */
export const DEFAULT_MAX_EVENTS = 20_000_000;

/** The note a run stopped at a limit carries: the runner's result and the page's say the same. */
export function stopNote(status: Exclude<RunStatus, 'done'>, limit: number): string {
  switch (status) {
    case 'max-time':
      return `stopped at the time limit (${limit / 1000} µs)`;
    case 'max-commands':
      return `stopped after ${limit} commands`;
    case 'max-events':
      return `stopped after ${limit} events`;
  }
}

/** A run's outputs, with the trace read as the union of every layer's events. */
export type SimOutputs = Omit<Outputs, 'trace'> & { trace: TraceRecord[] };

export interface SimOptions {
  /** Replace the scenario's policy (a preset, optionally with flags). */
  policy?: PolicySpec;
  /** Flag overrides applied on top of the policy. */
  flags?: Partial<PolicyFlags>;
  /** Keep trace records (default true). */
  trace?: boolean;
  /**
   * One event per consumed command (default false: the consumer runs ahead
   * through commands when nothing else is due). Results are the same; a view
   * that steps event by event sees each command move CONS.
   */
  stepwise?: boolean;
  /** Stop the run once the SMMU has consumed this many commands (default DEFAULT_MAX_COMMANDS). */
  maxCommands?: number;
}

export interface Snapshot {
  nowNs: number;
  events: number;
  state: Omit<KWorld, 'out' | 'bus'>;
  steps: number;
  lens: { trace: number; log: number; calls: number; violations: number; notes: number };
}

export interface DeviceResult {
  bdf: string;
  group: number;
  present: boolean;
  blocked: string;
  resetDepth: number;
  brokenPending: boolean;
  atsBroken: boolean;
  steEats: number[];
}

export interface SimResult {
  format: typeof RESULT_FORMAT;
  scenario: string;
  policy: string;
  policyLabel: string;
  flags: PolicyFlags;
  seed: number;
  endUs: number;
  smmu: { gerror: string; gerrorn: string; cmdqProd: string; cmdqCons: string; cmdqErr: string; sfm: boolean };
  groups: Array<{ id: number; domain: string | null; recoveryCnt: number }>;
  devices: DeviceResult[];
  stats: {
    commandsConsumed: number;
    atcInvIssued: number;
    atcInvTimeouts: number;
    cmdqErrors: number;
    gerrorIrqs: number;
    staleAtcWrites: number;
    corruptedPages: number;
    blockedDma: number;
    quarantines: number;
    unquarantines: number;
  };
  calls: Array<{ atUs: number; fn: string; args: string[]; ret: string }>;
  log: string[];
  violations: Array<{ atUs: number; invariant: string; message: string }>;
  notes: string[];
}

export type RunStatus = 'done' | 'max-events' | 'max-commands' | 'max-time';

function policyOf(spec: PolicySpec, flags: Partial<PolicyFlags> = {}): Policy {
  if (typeof spec === 'string') return resolvePolicy(spec, flags);
  const { preset, ...rest } = spec;
  return resolvePolicy(isPresetName(preset) ? preset : 'v4', { ...rest, ...flags });
}

export class Simulation {
  readonly scenario: ResolvedScenario;
  readonly policy: Policy;
  readonly notes: string[] = [];
  private w: KWorld;
  private steps: Step[];
  /** Indices of the scenario's steps in the order they run (time, then file order). */
  private order: number[];
  /** Each step's numbers, parsed once. */
  private args: StepArgs[];
  private status: RunStatus | 'running' = 'running';

  constructor(scenario: ResolvedScenario, opts: SimOptions = {}) {
    if (scenario.format !== SCENARIO_FORMAT) throw new Error('not a resolved scenario');
    this.scenario = scenario;
    this.policy = policyOf(opts.policy ?? scenario.policy, opts.flags);
    this.steps = [...scenario.steps];
    this.w = boot(scenario, this.policy, opts.trace ?? true, this.notes);
    this.w.s.runAhead = !(opts.stepwise ?? false);
    this.w.s.cmdLimit = opts.maxCommands ?? DEFAULT_MAX_COMMANDS;
    this.args = this.steps.map(stepArgsOf);
    this.steps.forEach((s, i) => {
      const n = resetAsGivenNote(s, i, this.args[i]!);
      if (n !== null) this.notes.push(n);
    });
    this.order = this.steps.map((_, i) => i).sort((a, b) => this.steps[a]!.at - this.steps[b]!.at || a - b);
    this.w.s.nextStep = 0;
    this.w.s.nextStepNs = this.order.length ? this.steps[this.order[0]!]!.at * 1000 : Number.POSITIVE_INFINITY;
  }

  /** The live state (read-only by convention; views read it through the adapter). */
  get world(): KWorld {
    return this.w;
  }
  /** What the run has recorded so far: the trace (as TraceRecords), the kernel log, the API calls, violations. */
  get out(): SimOutputs {
    const o = this.w.out;
    return {
      trace: asTraceRecords(o.trace),
      traceBase: o.traceBase,
      log: o.log,
      calls: o.calls,
      violations: o.violations,
      notes: o.notes,
    };
  }
  get nowNs(): number {
    return this.w.s.nowNs;
  }
  get eventsProcessed(): number {
    return this.w.s.steps;
  }
  get allSteps(): readonly Step[] {
    return this.steps;
  }

  /** Virtual time of the next event, or null when the run is over. */
  nextEventNs(): number | null {
    const t = nextDueNs(this.w);
    return Number.isFinite(t) ? t : null;
  }

  /** Process the next event. Returns false when there is none. */
  step(): boolean {
    const w = this.w;
    const top = queuePeek(w.s.queue);
    if (w.s.nextStepNs <= (top?.t ?? Number.POSITIVE_INFINITY)) {
      // A scenario step is due (steps run before other events at the same time).
      if (!Number.isFinite(w.s.nextStepNs)) return false;
      const index = this.order[w.s.nextStep]!;
      w.s.nowNs = w.s.nextStepNs;
      w.s.nextStep++;
      const nx = this.order[w.s.nextStep];
      w.s.nextStepNs = nx === undefined ? Number.POSITIVE_INFINITY : this.steps[nx]!.at * 1000;
      w.s.steps++;
      settlePurges(w);
      w.s.cause = -1;
      runStep(w, this.steps[index]!, index, this.args[index]!);
    } else {
      const e = queuePop(w.s.queue)!;
      w.s.nowNs = e.t;
      w.s.steps++;
      settlePurges(w);
      w.s.cause = e.cause;
      dispatch(w, e.ev, this.steps, this.args);
      eventDone(e.ev);
      queueRelease(e);
    }
    checkPollers(w);
    checkInvariants(w);
    return true;
  }

  /** Process every event at or before tNs; the clock then reads tNs. */
  runUntil(tNs: number, maxEvents = DEFAULT_MAX_EVENTS): RunStatus | 'paused' {
    let n = 0;
    this.setHorizon(tNs, false);
    try {
      for (;;) {
        const t = this.nextEventNs();
        if (t === null || t > tNs) break;
        if (++n > maxEvents) return 'max-events';
        this.step();
      }
    } finally {
      this.setHorizon(Number.POSITIVE_INFINITY, false);
    }
    if (tNs > this.w.s.nowNs && Number.isFinite(tNs)) {
      this.w.s.nowNs = tNs;
      settlePurges(this.w);
    }
    return this.nextEventNs() === null ? 'done' : 'paused';
  }

  /** Process every event strictly before tNs (the state a step injected at tNs sees). */
  runBefore(tNs: number, maxEvents = DEFAULT_MAX_EVENTS): void {
    let n = 0;
    this.setHorizon(tNs, true);
    try {
      for (;;) {
        const t = this.nextEventNs();
        if (t === null || t >= tNs || ++n > maxEvents) break;
        this.step();
      }
    } finally {
      this.setHorizon(Number.POSITIVE_INFINITY, false);
    }
    if (tNs > this.w.s.nowNs) this.w.s.nowNs = tNs;
  }

  private setHorizon(tNs: number, strict: boolean): void {
    this.w.s.horizonNs = tNs;
    this.w.s.horizonStrict = strict;
  }

  /**
   * Run to the end or a limit. By default the run stops 300 s of virtual
   * time after the last step: a dead SMMU (Service Failure Mode) leaves an
   * issuer retrying "CMDQ timeout" for ever, as the kernel would.
   */
  run(maxEvents = DEFAULT_MAX_EVENTS, maxTimeNs = this.defaultEndNs()): RunStatus {
    let n = 0;
    for (;;) {
      const t = this.nextEventNs();
      if (t === null) {
        settlePurges(this.w);
        this.finish();
        return (this.status = 'done');
      }
      if (t > maxTimeNs) {
        this.notes.push(stopNote('max-time', maxTimeNs));
        return (this.status = 'max-time');
      }
      if (this.commandLimitReached()) {
        this.notes.push(stopNote('max-commands', this.w.s.cmdLimit));
        return (this.status = 'max-commands');
      }
      if (++n > maxEvents) {
        this.notes.push(stopNote('max-events', maxEvents));
        return (this.status = 'max-events');
      }
      this.step();
    }
  }

  /** The run's command limit reached: the engine takes no further event. */
  commandLimitReached(): boolean {
    return this.w.smmu.stats.commandsConsumed >= this.w.s.cmdLimit;
  }

  /** The most commands this run consumes. */
  get commandLimit(): number {
    return this.w.s.cmdLimit;
  }

  /** 300 s of virtual time after the last step. */
  defaultEndNs(): number {
    let last = 0;
    for (const s of this.steps) if (s.at > last) last = s.at;
    return (last + 300_000_000) * 1000;
  }

  /**
   * Add a step (already validated) at its `at` time, which must not be in
   * the past. Steps run before other events at the same time, so the run
   * continues exactly as a fresh run of the scenario with this step added.
   */
  inject(s: Step): number {
    const atNs = s.at * 1000;
    if (atNs < this.w.s.nowNs)
      throw new Error(`cannot add a step at ${s.at} µs: the simulation is at ${this.w.s.nowNs / 1000} µs`);
    const index = this.steps.length;
    this.steps.push(s);
    this.args.push(stepArgsOf(s));
    const n = resetAsGivenNote(s, index, this.args[index]!);
    if (n !== null) this.notes.push(n);
    this.w.k.steps.push(index);
    schedule(this.w, atNs, { k: 'step', index, injected: true }, -1);
    return index;
  }

  /**
   * Start kernel work now, outside any scenario step (tests and tools that
   * drive kernel functions directly). It runs until it first waits.
   */
  spawnKernel(name: string, f: Frame): void {
    spawn(this.w, name, f);
    checkPollers(this.w);
    checkInvariants(this.w);
  }

  snapshot(): Snapshot {
    // The outputs are kept once (cut back on restore) and the bus is code, not state.
    const { out, bus: _bus, ...rest } = this.w;
    return {
      nowNs: this.w.s.nowNs,
      events: this.w.s.steps,
      steps: this.steps.length,
      state: structuredClone(rest),
      lens: {
        trace: out.traceBase + out.trace.length,
        log: out.log.length,
        calls: out.calls.length,
        violations: out.violations.length,
        notes: out.notes.length,
      },
    };
  }

  /**
   * Return to a snapshot taken from this simulation (or from another one of
   * the same scenario and options). Outputs are cut back to their length
   * then; `detached` instead starts empty outputs whose trace ids go on
   * from the snapshot's (a view that steps on from a snapshot of a run
   * recorded elsewhere, and keeps nothing it writes).
   */
  restore(s: Snapshot, opts: { detached?: boolean } = {}): void {
    let out = this.w.out;
    if (opts.detached) {
      out = outputsInit(errnoString);
      out.traceBase = s.lens.trace;
    } else {
      out.trace.length = Math.min(out.trace.length, s.lens.trace - out.traceBase);
      out.log.length = Math.min(out.log.length, s.lens.log);
      out.calls.truncate(s.lens.calls);
      out.violations.length = Math.min(out.violations.length, s.lens.violations);
      out.notes.length = Math.min(out.notes.length, s.lens.notes);
    }
    this.w = { ...structuredClone(s.state), out, bus: PCIE_BUS } as KWorld;
    this.steps.length = s.steps;
    this.args.length = s.steps;
    this.status = 'running';
  }

  private finish(): void {
    const w = this.w;
    for (const t of w.k.tasks) {
      const wt = t.wait;
      w.out.violations.push({
        t: w.s.nowNs,
        invariant: 'deadlock',
        message: `task "${t.name}" never finished (waiting on ${wt?.kind === 'lock' ? wt.lock : (wt?.kind ?? 'nothing')})`,
        traceId: t.cause,
      });
    }
    w.k.tasks = [];
  }

  result(): SimResult {
    return buildResult(this.w, this.scenario, this.policy, this.notes);
  }

  /** The counters of result(), without building the rest of it. */
  stats(): SimResult['stats'] {
    return statsOf(this.w);
  }
}

/** A validated step's IOVA and reset result as numbers. */
function stepArgsOf(s: Step): StepArgs {
  if (s.op !== 'reset') return { iova: 'iova' in s ? (parseIova(s.iova) ?? 0) : 0, result: 0, outcome: 'ok' };
  if (s.outcome !== undefined) return { iova: 0, result: RESET_OUTCOME_RC[s.outcome], outcome: s.outcome };
  const result = parseResult(s.result ?? 0) ?? 0;
  return { iova: 0, result, outcome: resetOutcomeOf(s.method, result) };
}

/** The note for a reset step whose result its method cannot return (it runs as given). */
function resetAsGivenNote(s: Step, index: number, a: StepArgs): string | null {
  if (s.op !== 'reset' || a.outcome !== 'as-given') return null;
  const can = [...new Set(RESET_METHOD_OUTCOMES[s.method].map((o) => errnoString(RESET_OUTCOME_RC[o])))];
  return `steps[${index}]: the PCI core's ${RESET_FN_NAMES[s.method]}() cannot return ${errnoString(a.result)} (it returns ${can.join(', ')}); the reset runs and returns it as given.`;
}

/* -------------------------------------------------------------------- boot */

function boot(sc: ResolvedScenario, policy: Policy, traceOn: boolean, notes: string[]): KWorld {
  const hwcfg: HwCfg = {
    cmdqLog2Size: sc.smmu.cmdqLog2Size,
    atcInvTimeoutNs: sc.smmu.atcInvTimeoutUs * 1000,
    cmdCostNs: sc.smmu.cmdCostNs,
    gerrorIrqLatencyNs: sc.smmu.gerrorIrqLatencyUs * 1000,
    evtqIrqLatencyNs: sc.smmu.evtqIrqLatencyUs * 1000,
    atcInvResponseNs: sc.smmu.atcInvResponseUs * 1000,
    atcInvJitterSpan: 0,
    atcInvJitterInv: 0,
  };
  hwcfg.atcInvJitterSpan = Math.max(0, Math.floor(hwcfg.atcInvResponseNs / 2)) + 1;
  hwcfg.atcInvJitterInv = 1 / hwcfg.atcInvJitterSpan;
  const devs = sc.groups.flatMap((g) => g.devices);
  const qsize = 1 << sc.smmu.cmdqLog2Size;
  const batchEntries = Math.max(1, Math.min(CMDQ_BATCH_ENTRIES, Math.floor(qsize / 2) - 1));
  if (qsize <= CMDQ_BATCH_ENTRIES) {
    notes.push(
      `Linux refuses a command queue of ${qsize} entries ("command queue size <= ${CMDQ_BATCH_ENTRIES} entries not supported"); the model continues with batches of ${batchEntries} so small rings can be watched.`,
    );
  }
  const k: KernelState = {
    cmdq: { prod: 0, cons: 0, atcSyncTimeouts: new Uint8Array(qsize), bitCause: new Int32Array(qsize).fill(-1) },
    domains: new Map(),
    groups: {},
    groupOrder: [],
    gdevs: {},
    masters: {},
    streams: {},
    tasks: [],
    nextTask: 1,
    locks: {},
    ratelimit: {},
    stats: { atcInvIssued: 0, gerrorIrqs: 0, quarantines: 0, unquarantines: 0 },
    nextAsid: 1,
    steps: [],
    pollers: [],
    pollCheckedGen: 0,
    invDirty: true,
    violKeys: {},
    brokenMasters: 0,
    batchPool: [],
    taskPool: [],
    cpus: new Array<number>(sc.kernel.cpus).fill(-1),
    cpuWaiters: [],
    gerrorIrqWaitNs: -1,
  };
  const w: KWorld = {
    s: simInit(sc.seed),
    out: outputsInit(errnoString),
    traceOn,
    hwcfg,
    smmu: smmuInit(hwcfg),
    mem: memInit(sc.memory.pages),
    pci: pciInit(devs),
    pciStats: { staleAtcWrites: 0, corruptedPages: 0 },
    bus: PCIE_BUS,
    kcfg: {
      flags: policy.flags,
      policyLabel: policy.label,
      pollTimeoutNs: sc.smmu.pollTimeoutUs * 1000,
      workerLatencyNs: sc.kernel.workerLatencyUs * 1000,
      batchEntries,
      cpus: sc.kernel.cpus,
    },
    k,
  };
  // Domains: the scenario's, plus the static blocking domain.
  sc.domains.forEach((d, i) => {
    const dom: KDomain = {
      id: d.id,
      type: d.type,
      index: i,
      asid: d.type === 'paging' ? k.nextAsid++ : 0,
      ttb: 0x8000_0000 + i * 0x10_0000,
      invs: [],
      mapped: new Map(),
    };
    k.domains.set(d.id, dom);
  });
  k.domains.set(BLOCKED_DOMAIN, { id: BLOCKED_DOMAIN, type: 'blocked', index: -3, asid: 0, ttb: 0, invs: [], mapped: new Map() });
  // arm_smmu_device_reset(): queues, IRQs, CR0 (ATSCHK when the SMMU has ATS), GBPA abort.
  writeReg(w, ARM_SMMU_GBPA, GBPA_ABORT);
  writeReg(w, ARM_SMMU_IRQ_CTRL, IRQ_CTRL_GERROR_IRQEN | IRQ_CTRL_EVTQ_IRQEN);
  writeReg(w, ARM_SMMU_CR0, CR0_SMMUEN | CR0_CMDQEN | CR0_EVTQEN | (sc.smmu.atsChk ? CR0_ATSCHK : 0));
  smmuLog(w, 'info', `allocated ${qsize} entries for cmdq`);
  smmuLog(w, 'info', `allocated ${1 << EVTQ_SHIFT} entries for evtq`);
  // Probe: groups, group_devices and masters attached to the group's domain.
  let cd = 0x9000_0000;
  for (const g of sc.groups) {
    k.groups[g.id] = {
      id: g.id,
      domain: g.domain ?? BLOCKED_DOMAIN,
      defaultDomain: g.domain,
      blockingDomain: g.domain === null,
      recoveryCnt: 0,
      pasidArray: {},
      devices: g.devices.map((d) => d.bdf),
    };
    k.groupOrder.push(g.id);
    for (const d of g.devices) {
      k.gdevs[d.bdf] = { bdf: d.bdf, group: g.id, m: gdevInitial(policy.flags.nestedResetFix), present: true, workQueued: false };
      const m = {
        bdf: d.bdf,
        sids: [...d.sids],
        atsCap: d.ats,
        pasidCap: d.pasid,
        driver: d.driver,
        atsEnabled: false,
        atsBroken: false,
        atsBrokenSinceNs: 0,
        domain: null,
        pasids: {},
        cdTab: cd,
        present: true,
      };
      cd += 0x1000;
      k.masters[d.bdf] = m;
      probeMaster(w, m, g.domain);
    }
  }
  w.s.cause = -1;
  return w;
}

/* ---------------------------------------------------------------- dispatch */

function dispatch(w: KWorld, ev: import('./sim/events.ts').SimEvent, steps: Step[], args: StepArgs[]): void {
  switch (ev.k) {
    case 'step': {
      const s = steps[ev.index];
      if (s) runStep(w, s, ev.index, args[ev.index]!);
      return;
    }
    case 'task.resume':
      onTaskResume(w, ev.task, ev.token, ev.ret);
      return;
    case 'task.timeout':
      onTaskTimeout(w, ev.task, ev.token);
      return;
    case 'hw.consume':
      onConsume(w);
      return;
    case 'hw.sync_deadline':
      onSyncDeadline(w, ev.token);
      return;
    case 'irq.gerror':
      gerrorIrq(w);
      return;
    case 'irq.evtq':
      spawn(w, 'arm_smmu_evtq_thread', evtqThreadFrame(), 'hardirq');
      return;
    case 'work.broken': {
      const g = w.k.gdevs[ev.bdf];
      if (!g || !g.present || !g.workQueued) return; // disabled by disable_work_sync()
      spawn(w, `kworker broken_work ${ev.bdf}`, brokenWorkerFrame(ev.bdf, g.group), 'kworker');
      return;
    }
  }
}

/* -------------------------------------------------------------- invariants */

function violation(w: KWorld, invariant: string, key: string, message: string): void {
  if (w.k.violKeys[key]) return;
  w.k.violKeys[key] = 1;
  w.out.violations.push({ t: w.s.nowNs, invariant, message, traceId: w.s.cause });
  emit(w, 'violation', { invariant, message });
}

export function checkInvariants(w: KWorld): void {
  checkQueueInvariant(w);
  const k = w.k;
  if (!k.invDirty) return;
  k.invDirty = false;
  for (const gid of k.groupOrder) {
    const grp = k.groups[gid]!;
    let blocked = 0;
    for (const b of grp.devices) {
      const g = k.gdevs[b];
      if (g && g.present && g.m.value !== 'NO') blocked++;
    }
    if (blocked !== grp.recoveryCnt) {
      violation(
        w,
        'recovery_cnt',
        `rc:${gid}:${blocked}:${grp.recoveryCnt}`,
        `group ${gid}: recovery_cnt is ${grp.recoveryCnt} but ${blocked} device(s) are blocked`,
      );
    }
  }
  for (const b in k.gdevs) {
    const g = k.gdevs[b]!;
    if (g.m.context.reset_depth < 0)
      violation(w, 'reset_depth', `rd:${b}`, `${b}: reset_depth is negative (${g.m.context.reset_depth})`);
  }
  if (w.kcfg.flags.atsBrokenFence) {
    for (const b in k.masters) {
      const m = k.masters[b]!;
      if (!m.atsBroken || !m.present) continue;
      for (const sid of m.sids) {
        const loc = steL2(w, sid, false);
        if (loc && readSte(loc.arr, loc.base).eats !== 0) {
          violation(
            w,
            'eats-while-ats-broken',
            `eats:${b}:${sid}:${w.s.nowNs}`,
            `${b}: STE.EATS is set on SID ${sid} while ats_broken`,
          );
        }
      }
    }
  }
}

/** CONS never passes PROD (checked after every event: it is O(1)). */
function checkQueueInvariant(w: KWorld): void {
  const shift = w.smmu.cmdqShift;
  const mask = (2 << shift) - 1;
  const prod = readReg(w, ARM_SMMU_CMDQ_PROD) & mask;
  const cons = readReg(w, ARM_SMMU_CMDQ_CONS) & mask;
  const dist = (prod - cons) & mask;
  if (dist > 1 << shift)
    violation(w, 'cons-passes-prod', `cons:${prod}:${cons}`, `CMDQ CONS (${hex32(cons)}) is past PROD (${hex32(prod)})`);
}

/* ------------------------------------------------------------------ result */

function statsOf(w: KWorld): SimResult['stats'] {
  return {
    commandsConsumed: w.smmu.stats.commandsConsumed,
    atcInvIssued: w.k.stats.atcInvIssued,
    atcInvTimeouts: w.smmu.stats.atcInvTimeouts,
    cmdqErrors: w.smmu.stats.cmdqErrors,
    gerrorIrqs: w.k.stats.gerrorIrqs,
    staleAtcWrites: w.pciStats.staleAtcWrites,
    corruptedPages: w.pciStats.corruptedPages,
    blockedDma: w.smmu.stats.blockedDma,
    quarantines: w.k.stats.quarantines,
    unquarantines: w.k.stats.unquarantines,
  };
}

function buildResult(w: KWorld, sc: ResolvedScenario, policy: Policy, notes: string[]): SimResult {
  const k = w.k;
  const cons = readReg(w, ARM_SMMU_CMDQ_CONS);
  const err = (cons >>> CMDQ_CONS_ERR_SHIFT) & CMDQ_CONS_ERR_MASK;
  const devices: DeviceResult[] = [];
  for (const g of sc.groups) {
    for (const d of g.devices) {
      const gd = k.gdevs[d.bdf]!;
      const m = k.masters[d.bdf]!;
      devices.push({
        bdf: d.bdf,
        group: g.id,
        present: gd.present,
        blocked: gd.m.value,
        resetDepth: gd.m.context.reset_depth,
        brokenPending: gd.m.context.broken_pending,
        atsBroken: m.atsBroken,
        steEats: steEatsOf(w, d.sids),
      });
    }
  }
  return {
    format: RESULT_FORMAT,
    scenario: sc.name,
    policy: policy.preset as PresetName,
    policyLabel: policy.label,
    flags: { ...policy.flags },
    seed: sc.seed,
    endUs: now(w as SimCtx) / 1000,
    smmu: {
      gerror: hex32(readReg(w, ARM_SMMU_GERROR)),
      gerrorn: hex32(readReg(w, ARM_SMMU_GERRORN)),
      cmdqProd: hex32(readReg(w, ARM_SMMU_CMDQ_PROD)),
      cmdqCons: hex32(cons),
      cmdqErr: cerrorName(err).replace(/^CERROR_/, ''),
      sfm: w.smmu.sfm || !!(readReg(w, ARM_SMMU_GERROR) & GERROR_SFM_ERR),
    },
    groups: k.groupOrder.map((id) => ({
      id,
      domain: k.groups[id]!.domain === BLOCKED_DOMAIN ? null : k.groups[id]!.domain,
      recoveryCnt: k.groups[id]!.recoveryCnt,
    })),
    devices,
    stats: statsOf(w),
    calls: w.out.calls.slice().map((c) => ({ atUs: c.atUs, fn: c.fn, args: c.args, ret: c.ret })),
    log: w.out.log.map((l) => l.text),
    violations: w.out.violations.map((v) => ({ atUs: v.t / 1000, invariant: v.invariant, message: v.message })),
    notes: [...notes, ...w.out.notes],
  };
}
