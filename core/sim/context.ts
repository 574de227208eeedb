/**
 * The simulation context: virtual clock, event queue, PRNG and the
 * append-only outputs (trace, kernel log, API calls, violations).
 *
 * Time is in nanoseconds of virtual time. Nothing here reads a wall clock or
 * Math.random: a run is a pure function of (scenario, seed, policy).
 */
import { prngInit, type PrngState } from './prng.ts';
import { queueInit, queuePeek, queuePush, queueRemove, type QueueState } from './queue.ts';
import type { SimEvent } from './events.ts';
import { hexAddr } from './format.ts';

export interface SimState {
  nowNs: number;
  queue: QueueState<SimEvent>;
  prng: PrngState;
  /** Trace id of the record that is the cause of what happens next (-1: none). */
  cause: number;
  /** Number of events processed so far. */
  steps: number;
  /**
   * The scenario's steps are not kept in the heap: the engine takes them in
   * order of time (file order at equal times) from a sorted list; nextStep
   * is the cursor into it and nextStepNs the time of the next one.
   */
  nextStep: number;
  nextStepNs: number;
  /**
   * How far a handler may run ahead within one event (the SMMU consumer): up
   * to and including horizonNs, or strictly before it when horizonStrict.
   * Set by the engine from runUntil / runBefore; runAhead false makes every
   * command its own event (same results, more events).
   */
  horizonNs: number;
  horizonStrict: boolean;
  runAhead: boolean;
  /**
   * The number of commands the SMMU may consume in the whole run (the
   * engine stops the run once it is reached): the consumer never runs ahead
   * past it, so a run stops after the same command with run-ahead as
   * stepwise.
   */
  cmdLimit: number;
}

/**
 * A trace record as the simulation keeps it. Every layer writes records
 * through its own typed emit() (hw/trace.ts, pci/trace.ts,
 * kernel/trace.ts); core/trace.ts reads them as the TraceRecord union.
 */
export interface TraceEntry {
  /** Index in the trace; also the record's identity for `cause` links. */
  id: number;
  /** Virtual time, ns. */
  t: number;
  /** Id of the record that led to this one, or -1. */
  cause: number;
  kind: string;
  /** Kind-specific data (plain JSON). */
  d: object;
}

export type LogLevel = 'emerg' | 'alert' | 'crit' | 'err' | 'warn' | 'notice' | 'info' | 'debug';
export interface LogLine {
  t: number;
  level: LogLevel;
  text: string;
  traceId: number;
}
export interface CallRecord {
  atUs: number;
  fn: string;
  args: string[];
  ret: string;
  traceId: number;
}
export interface Violation {
  t: number;
  invariant: string;
  message: string;
  traceId: number;
}

/**
 * The kernel API calls made by steps, kept as columns and turned into
 * CallRecords when read. A storm makes a call per map and per unmap, all
 * kept to the end of the run: the numbers of a call (start time, IOVA,
 * page count, trace id, return value) go into one growing Float64Array,
 * which the garbage collector neither scans nor copies, and the strings
 * the run already holds into two arrays. Calls over an address range
 * (iommu_map, iommu_unmap) keep their domain, IOVA and page count and
 * print them as arguments only when read. A return value given as a
 * string (rare) is kept aside, by call index.
 */
const CALL_START = 0;
const CALL_IOVA = 1;
const CALL_PAGES = 2;
const CALL_TRACE = 3;
const CALL_RET = 4;
/** 1 when the return value is a size in bytes (iommu_unmap()'s size_t), printed in hex; 0 for 0 or -errno. */
const CALL_SIZE_RET = 5;
const CALL_NUMS = 6;

/** The arguments of a range call as the kernel passes them: domain, IOVA and size in bytes (4 KiB pages). */
export function rangeArgs(dom: string, iova: number, pages: number): string[] {
  return [dom, hexAddr(iova), sizeString(pages * 4096)];
}

/** A size_t as the log and the call list print it: 0, else hex ("0x2000"). */
export function sizeString(bytes: number): string {
  return bytes === 0 ? '0' : hexAddr(bytes);
}

export class CallLog {
  /** How a numeric return value is printed (the kernel's errno names). */
  private readonly formatRet: (rc: number) => string;
  private n = 0;
  private nums = new Float64Array(64 * CALL_NUMS);
  private fns: string[] = [];
  /** The arguments as printed, or the domain of a range call. */
  private args: Array<string[] | string> = [];
  private strRets = new Map<number, string>();

  constructor(formatRet: (rc: number) => string) {
    this.formatRet = formatRet;
  }

  get length(): number {
    return this.n;
  }

  push(startNs: number, fn: string, args: string[], ret: number | string, traceId: number): void {
    this.add(startNs, fn, args, 0, 0, ret, traceId, false);
  }

  /**
   * A call over `pages` pages at `iova` of domain `dom`, printed as the
   * kernel's arguments [dom, 0xiova, 0xsize in bytes]. `sizeRet`: the return
   * value is a number of bytes (iommu_unmap() returns the size it unmapped).
   */
  pushRange(
    startNs: number,
    fn: string,
    dom: string,
    iova: number,
    pages: number,
    ret: number,
    traceId: number,
    sizeRet = false,
  ): void {
    this.add(startNs, fn, dom, iova, pages, ret, traceId, sizeRet);
  }

  private add(
    startNs: number,
    fn: string,
    args: string[] | string,
    iova: number,
    pages: number,
    ret: number | string,
    traceId: number,
    sizeRet: boolean,
  ): void {
    const k = this.n;
    let nums = this.nums;
    if ((k + 1) * CALL_NUMS > nums.length) {
      const grown = new Float64Array(nums.length * 2);
      grown.set(nums);
      this.nums = nums = grown;
    }
    const at = k * CALL_NUMS;
    nums[at + CALL_START] = startNs;
    nums[at + CALL_IOVA] = iova;
    nums[at + CALL_PAGES] = pages;
    nums[at + CALL_TRACE] = traceId;
    nums[at + CALL_SIZE_RET] = sizeRet ? 1 : 0;
    if (typeof ret === 'string') {
      nums[at + CALL_RET] = 0;
      this.strRets.set(k, ret);
    } else nums[at + CALL_RET] = ret;
    this.fns.push(fn);
    this.args.push(args);
    this.n = k + 1;
  }

  /** Drop the calls from index `n` on (a snapshot being restored). */
  truncate(n: number): void {
    if (n >= this.n) return;
    this.n = n;
    this.fns.length = n;
    this.args.length = n;
    for (const k of [...this.strRets.keys()]) if (k >= n) this.strRets.delete(k);
  }

  /** The call at index i (negative: from the end), or undefined. */
  at(i: number): CallRecord | undefined {
    const k = i < 0 ? this.n + i : i;
    return k >= 0 && k < this.n ? this.record(k) : undefined;
  }

  /** The calls from index `from` up to `to` (exclusive; negative: from the end, as Array.slice), as records. */
  slice(from = 0, to = this.n): CallRecord[] {
    const n = this.n;
    const lo = from < 0 ? Math.max(0, n + from) : Math.min(from, n);
    const hi = to < 0 ? Math.max(0, n + to) : Math.min(to, n);
    const out: CallRecord[] = [];
    for (let k = lo; k < hi; k++) out.push(this.record(k));
    return out;
  }

  [Symbol.iterator](): Iterator<CallRecord> {
    return this.slice()[Symbol.iterator]();
  }

  private record(k: number): CallRecord {
    const at = k * CALL_NUMS;
    const nums = this.nums;
    const a = this.args[k]!;
    const args = typeof a === 'string' ? rangeArgs(a, nums[at + CALL_IOVA]!, nums[at + CALL_PAGES]!) : a;
    const r = this.strRets.get(k) ?? nums[at + CALL_RET]!;
    return {
      atUs: nums[at + CALL_START]! / 1000,
      fn: this.fns[k]!,
      args,
      ret: typeof r === 'string' ? r : nums[at + CALL_SIZE_RET] === 1 ? sizeString(r) : this.formatRet(r),
      traceId: nums[at + CALL_TRACE]!,
    };
  }
}

export interface Outputs {
  trace: TraceEntry[];
  /**
   * Id of trace[0]: 0 for a run's own outputs; a view restored from a
   * snapshot keeps only the records it writes after the snapshot, numbered
   * on from the snapshot's trace length (Simulation.restore, detached).
   */
  traceBase: number;
  log: LogLine[];
  calls: CallLog;
  violations: Violation[];
  /** Remarks on the run for its reader (not kernel output): the result's `notes`. */
  notes: string[];
}

export interface SimCtx {
  s: SimState;
  out: Outputs;
  /** When false, trace records are not kept (benchmarks); log, calls and violations always are. */
  traceOn: boolean;
}

export function simInit(seed: number): SimState {
  return {
    nowNs: 0,
    queue: queueInit<SimEvent>(),
    prng: prngInit(seed),
    cause: -1,
    steps: 0,
    nextStep: 0,
    nextStepNs: Number.POSITIVE_INFINITY,
    horizonNs: Number.POSITIVE_INFINITY,
    horizonStrict: false,
    runAhead: true,
    cmdLimit: Number.POSITIVE_INFINITY,
  };
}

export function outputsInit(formatRet: (rc: number) => string): Outputs {
  return { trace: [], traceBase: 0, log: [], calls: new CallLog(formatRet), violations: [], notes: [] };
}

export function now(c: SimCtx): number {
  return c.s.nowNs;
}

/** Time of the next thing due: a queued event or the next scenario step. */
export function nextDueNs(c: SimCtx): number {
  const top = queuePeek(c.s.queue);
  const t = top === undefined ? Number.POSITIVE_INFINITY : top.t;
  return t < c.s.nextStepNs ? t : c.s.nextStepNs;
}

/**
 * Schedule `ev` at absolute time `atNs` (never in the past). Its cause is the
 * current cause unless given. Returns the event's sequence number, which
 * `cancel` takes.
 */
export function schedule(c: SimCtx, atNs: number, ev: SimEvent, cause = c.s.cause): number {
  return queuePush(c.s.queue, Math.max(atNs, c.s.nowNs), ev, ev.k === 'step' ? 0 : 1, cause);
}

/** Cancel a scheduled event (a timer whose wait ended early). */
export function cancel(c: SimCtx, seq: number): void {
  if (seq < 0) return;
  const ev = queueRemove(c.s.queue, seq);
  if (ev !== undefined) eventDone(ev);
}

type ResumeEvent = Extract<SimEvent, { k: 'task.resume' }>;
type TimeoutEvent = Extract<SimEvent, { k: 'task.timeout' }>;

/*
 * The events of a task's wake-up and of its poll timer are made afresh for
 * every wait and read only by the dispatch of their entry: once handled or
 * cancelled (eventDone()), they are reused by the next wait, like the
 * queue's entries. The pools are outside the simulation state and keep a
 * few events at most.
 */
const RESUME_POOL: ResumeEvent[] = [];
const TIMEOUT_POOL: TimeoutEvent[] = [];
const EVENT_POOL_MAX = 64;

/** The event that resumes `task` with `ret` if its wait still has `token`. */
export function resumeEvent(task: number, token: number, ret: number): SimEvent {
  const ev = RESUME_POOL.pop();
  if (ev === undefined) return { k: 'task.resume', task, token, ret };
  ev.task = task;
  ev.token = token;
  ev.ret = ret;
  return ev;
}

/** The event that ends the poll of `task` if its wait still has `token`. */
export function timeoutEvent(task: number, token: number): SimEvent {
  const ev = TIMEOUT_POOL.pop();
  if (ev === undefined) return { k: 'task.timeout', task, token };
  ev.task = task;
  ev.token = token;
  return ev;
}

/** An event that has been handled or cancelled: nothing reads it again. */
export function eventDone(ev: SimEvent): void {
  if (ev.k === 'task.resume') {
    if (RESUME_POOL.length < EVENT_POOL_MAX) RESUME_POOL.push(ev);
  } else if (ev.k === 'task.timeout') {
    if (TIMEOUT_POOL.length < EVENT_POOL_MAX) TIMEOUT_POOL.push(ev);
  }
}

/**
 * Append a trace record (through a layer's typed emit()). Its cause
 * defaults to the current cause, and it becomes the current cause, so
 * consecutive records chain. With the trace off nothing is kept.
 */
export function emit(c: SimCtx, kind: string, d: object, cause = c.s.cause): number {
  if (!c.traceOn) return -1;
  const id = c.out.traceBase + c.out.trace.length;
  c.out.trace.push({ id, t: c.s.nowNs, cause, kind, d });
  c.s.cause = id;
  return id;
}

/** Like emit, but leaves the current cause unchanged (side notes). */
export function note(c: SimCtx, kind: string, d: object, cause = c.s.cause): number {
  const saved = c.s.cause;
  const id = emit(c, kind, d, cause);
  c.s.cause = saved;
  return id;
}
