/**
 * A run, recorded so that any moment of it can be shown at once.
 *
 * Two simulations of the same scenario: the recorder runs the scenario
 * forward (one event per consumed command) and is never moved back; for
 * every event it keeps the time and the lengths of the trace, log and call
 * list in growing typed arrays, and now and then a snapshot. The viewer
 * answers seek(e): it restores the nearest snapshot at or before e (with
 * detached outputs, so it keeps nothing it writes) and steps forward —
 * unless it is already between that snapshot and e.
 *
 * Recording can go in slices (`record(n)`), so a page can show the start of
 * a run while the rest is recorded; `new Timeline(…)` without
 * `progressive` records the whole run at once.
 *
 * What recording keeps is estimated as it goes (trace records, log lines,
 * calls, per-event arrays, snapshots) and held under a budget: past it,
 * snapshots are thinned first (seeks replay more events), and when there is
 * nothing left to thin recording stops, the run usable up to there.
 */
import {
  DEFAULT_MAX_EVENTS,
  Simulation,
  stopNote,
  type RunStatus,
  type SimOptions,
  type SimResult,
  type Snapshot,
} from './engine.ts';
import type { CallRecord, LogLine, Violation } from './sim/context.ts';
import { STICKY_KINDS, traceMark, type TraceMark, type TraceRecord } from './trace.ts';
import type { ResolvedScenario } from './scenario/types.ts';
import { buildView, type View } from './view.ts';

/** A mark on the timeline's track: a trace record whose words give it one (core/trace.ts `traceMark`), at the position that wrote it. */
export interface Marker {
  position: number;
  kind: TraceMark['kind'];
  label: string;
  traceId: number;
}

/**
 * The memory a recording may keep (estimated, see `RECORDING_COST`): about
 * 1 GiB, what a browser tab's worker holds comfortably on a laptop. The
 * runner records nothing (no trace, no snapshots) and has no such limit.
 */
export const RECORDING_BUDGET_BYTES = 1024 * 1024 * 1024;

/**
 * What recording keeps, in bytes, per item: a trace record with its data
 * (measured in Node: 157 bytes over the 5 million records of a 256-device
 * storm; Chromium's compressed pointers make it smaller), a kernel log line
 * besides its text, an API call (kept in columns), one event's entries of
 * the per-event arrays, and the parts of a snapshot (see `snapshotBytes`).
 */
export const RECORDING_COST = {
  traceRecord: 160,
  logLine: 96,
  call: 96,
  event: 20,
} as const;

/** Events between two snapshots to start with (the page sets its own from how fast events run). */
export const DEFAULT_SNAPSHOT_EVERY = 2048;

/** Fewest snapshots kept when thinning them to stay under the budget. */
const MIN_SNAPSHOTS = 8;

export interface TimelineOptions extends SimOptions {
  /** Stop recording after this many events (a run that never settles). */
  maxEvents?: number;
  /** Snapshot interval, in events, to start with (it doubles when snapshots are thinned). */
  snapshotEvery?: number;
  /** Most snapshots kept. */
  maxSnapshots?: number;
  /** Estimated bytes recording may keep (default RECORDING_BUDGET_BYTES). */
  budgetBytes?: number;
  /** Record nothing in the constructor: the caller records in slices with record(). */
  progressive?: boolean;
}

/** Where recording stands: going on, the whole run recorded, or stopped at a limit (see `stopReason`). */
export type RecordingState = 'running' | 'done' | 'stopped';

export interface TimelineData {
  /** Number of events recorded. Positions go from 0 (before the first event) to count. */
  count: number;
  /** times[e]: virtual time (ns) once e events have run. */
  times: Float64Array;
  /** Lengths of the trace, log and call list once e events have run. */
  traceLen: Uint32Array;
  logLen: Uint32Array;
  callsLen: Uint32Array;
  /** How the run ended ('done' while it is being recorded, or when recording stopped at its budget). */
  status: RunStatus;
  /** For each scenario step index, the position right after it ran (-1: it did not run, or not yet). */
  stepAt: number[];
  recording: RecordingState;
  /** Why recording stopped before the end of the run, in words (recording 'stopped'), else null. */
  stopReason: string | null;
  /** Virtual time (ns) of the scenario's last step: how far the run goes at least. */
  lastStepNs: number;
}

/** The last position of a recorded run whose time is at or before tNs. */
export function positionAt(data: Pick<TimelineData, 'times' | 'count'>, tNs: number): number {
  const t = data.times;
  let lo = 0,
    hi = data.count;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (t[mid]! <= tNs) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The index of the first of `sorted[0..n)` greater than `x` (n when none is). */
export function upperBound(sorted: ArrayLike<number>, x: number, n = sorted.length): number {
  let lo = 0,
    hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The position of a recorded run once trace record `id` has been written. */
export function positionOfTrace(data: Pick<TimelineData, 'traceLen' | 'count'>, id: number): number {
  return upperBound(data.traceLen, id, data.count);
}

/**
 * An estimate of the bytes a structured clone of `v` keeps: typed arrays
 * by their bytes, numbers and booleans 8, strings their length plus a
 * header, objects, arrays and maps a header and a slot per entry. It walks
 * the value once; it is for the budget, not an exact figure.
 */
export function cloneBytes(v: unknown, depth = 0): number {
  if (v === null || typeof v !== 'object') return typeof v === 'string' ? 16 + v.length : 8;
  if (depth > 64) return 16;
  if (ArrayBuffer.isView(v)) return 64 + v.byteLength;
  let n = 32;
  if (v instanceof Map) {
    for (const [k, x] of v) n += 16 + cloneBytes(k, depth + 1) + cloneBytes(x, depth + 1);
    return n;
  }
  if (Array.isArray(v)) {
    for (const x of v) n += 8 + cloneBytes(x, depth + 1);
    return n;
  }
  for (const k in v) n += 8 + cloneBytes((v as Record<string, unknown>)[k], depth + 1);
  return n;
}

/** A Float64Array / Uint32Array that grows by doubling; `view()` is the live part. */
class Column<A extends Float64Array | Uint32Array> {
  arr: A;
  n = 0;
  constructor(private readonly make: (n: number) => A) {
    this.arr = make(1024);
  }
  push(x: number): void {
    if (this.n === this.arr.length) {
      const grown = this.make(this.arr.length * 2);
      grown.set(this.arr);
      this.arr = grown;
    }
    this.arr[this.n++] = x;
  }
  view(): A {
    return this.arr.subarray(0, this.n) as A;
  }
  get bytes(): number {
    return this.arr.byteLength;
  }
}

export class Timeline {
  /** The recorder's outputs, growing while recording goes on. */
  readonly trace: TraceRecord[];
  readonly log: LogLine[];
  readonly violations: Violation[];
  private rec: Simulation;
  private viewer: Simulation;
  private snaps: Snapshot[] = [];
  private snapBytes = 0;
  private perSnapBytes = 0;
  private every: number;
  /** Fewest events between two checkpoints (doubles when snapshots are thinned). */
  private gap = 1;
  private readonly maxSnaps: number;
  private readonly maxEvents: number;
  private readonly budget: number;
  private readonly endNs: number;
  private times = new Column((n) => new Float64Array(n));
  private traceLens = new Column((n) => new Uint32Array(n));
  private logLens = new Column((n) => new Uint32Array(n));
  private callsLens = new Column((n) => new Uint32Array(n));
  private stepPos: number[];
  private stepScan = 0;
  /** The timeline's marks and the records the views keep showing (STICKY_KINDS), in trace order, as far as scanned. */
  private marks: Marker[] = [];
  private stickies: TraceRecord[] = [];
  private status: RunStatus = 'done';
  private state: RecordingState = 'running';
  private reason: string | null = null;
  private lastStepNs = 0;
  private res: SimResult | null = null;

  constructor(scenario: ResolvedScenario, opts: TimelineOptions = {}) {
    this.maxEvents = opts.maxEvents ?? DEFAULT_MAX_EVENTS;
    this.maxSnaps = opts.maxSnapshots ?? 2000;
    this.every = Math.max(1, Math.floor(opts.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY));
    if (Number.isNaN(this.every)) this.every = DEFAULT_SNAPSHOT_EVERY;
    this.budget = opts.budgetBytes ?? RECORDING_BUDGET_BYTES;
    const simOpts: SimOptions = { stepwise: true, trace: true, ...opts };
    this.rec = new Simulation(scenario, simOpts);
    this.viewer = new Simulation(scenario, simOpts);
    const out = this.rec.out;
    this.trace = out.trace;
    this.log = out.log;
    this.violations = out.violations;
    this.endNs = this.rec.defaultEndNs();
    for (const s of this.rec.allSteps) this.lastStepNs = Math.max(this.lastStepNs, s.at * 1000);
    this.stepPos = new Array<number>(this.rec.allSteps.length).fill(-1);
    this.pushEvent();
    this.takeSnapshot();
    if (!opts.progressive) while (this.state === 'running') this.record(1 << 16);
  }

  /** The API calls recorded so far. */
  get calls(): CallRecord[] {
    return this.rec.out.calls.slice();
  }

  /** The calls from index `from` up to `to` (exclusive). */
  callsBetween(from: number, to: number): CallRecord[] {
    return this.rec.out.calls.slice(from, to);
  }

  /** The run's result document, once recording has ended (done or stopped); null before. */
  get result(): SimResult {
    if (this.res === null) throw new Error('the run is still being recorded');
    return this.res;
  }

  get recording(): RecordingState {
    return this.state;
  }

  /** The recording so far. The arrays are views of the recorder's: copy what must outlive the next record(). */
  get data(): TimelineData {
    const n = this.times.n;
    return {
      count: n - 1,
      times: this.times.view(),
      traceLen: this.traceLens.view(),
      logLen: this.logLens.view(),
      callsLen: this.callsLens.view(),
      status: this.status,
      stepAt: this.stepPos,
      recording: this.state,
      stopReason: this.reason,
      lastStepNs: this.lastStepNs,
    };
  }

  /**
   * The marks on the track (trace records with a `traceMark`) recorded so
   * far, in trace order, from index `from` on: a page holds these instead
   * of the whole trace (a run has few).
   */
  markers(from = 0): Marker[] {
    return this.marks.slice(from);
  }

  /** The records of STICKY_KINDS recorded so far, in trace order, from index `from` on. */
  sticky(from = 0): TraceRecord[] {
    return this.stickies.slice(from);
  }

  /** Events recorded so far. */
  get count(): number {
    return this.times.n - 1;
  }

  /** Snapshot interval now (events). */
  get snapshotEvery(): number {
    return this.every;
  }

  /**
   * Take a snapshot at the position recorded now, unless the last one is
   * nearer than the checkpoint gap (which doubles each time snapshots are
   * thinned). A recorder that spaces snapshots by its own measure (the
   * page's worker: by the time events take, with `snapshotEvery: Infinity`)
   * calls it. Returns whether a snapshot was taken.
   */
  checkpoint(): boolean {
    if (this.state !== 'running') return false;
    if (this.count - this.snaps[this.snaps.length - 1]!.events < this.gap) return false;
    this.takeSnapshot();
    return true;
  }

  /** Estimated bytes the recording keeps now (see RECORDING_COST). */
  get estimatedBytes(): number {
    const o = this.rec.out;
    return (
      o.trace.length * RECORDING_COST.traceRecord +
      o.log.length * RECORDING_COST.logLine +
      o.calls.length * RECORDING_COST.call +
      this.times.bytes +
      this.traceLens.bytes +
      this.logLens.bytes +
      this.callsLens.bytes +
      this.snapBytes
    );
  }

  /**
   * Record up to `n` more events. Returns the recording state afterwards:
   * 'running' while there is more to record.
   */
  record(n: number): RecordingState {
    if (this.state !== 'running') return this.state;
    const sim = this.rec;
    const endNs = this.endNs;
    let left = n;
    // Check the budget about every 4096 events (and at the end of the slice).
    let nextCheck = 4096;
    while (left-- > 0) {
      const t = sim.nextEventNs();
      if (t === null) {
        sim.run(); // the end of the run: settle what is due, report tasks that never finished
        this.end('done');
        break;
      }
      if (t > endNs) {
        this.end('max-time');
        break;
      }
      if (sim.commandLimitReached()) {
        this.end('max-commands');
        break;
      }
      if (this.times.n > this.maxEvents) {
        this.end('max-events');
        break;
      }
      sim.step();
      this.pushEvent();
      if (this.times.n - 1 - this.snaps[this.snaps.length - 1]!.events >= this.every) this.takeSnapshot();
      if (--nextCheck === 0) {
        nextCheck = 4096;
        if (!this.withinBudget()) break;
      }
    }
    if (this.state === 'running') this.withinBudget();
    this.scanSteps();
    return this.state;
  }

  /** Position the viewer is at. */
  get position(): number {
    return this.viewer.eventsProcessed;
  }

  /** Move to position e (0..count recorded) and return the view there. */
  seek(e: number): View {
    const target = Math.max(0, Math.min(this.count, Math.floor(e)));
    const v = this.viewer;
    const cur = v.eventsProcessed;
    let snap: Snapshot | undefined;
    for (let lo = 0, hi = this.snaps.length - 1; lo <= hi;) {
      const mid = (lo + hi) >> 1;
      if (this.snaps[mid]!.events <= target) {
        snap = this.snaps[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    snap ??= this.snaps[0]!;
    if (!(cur <= target && cur >= snap.events)) v.restore(snap, { detached: true });
    while (v.eventsProcessed < target) {
      if (!v.step()) break;
      // A view keeps nothing it writes: drop its outputs as it goes (ids go on from the base).
      const o = v.world.out;
      if (o.trace.length > 4096) {
        o.traceBase += o.trace.length;
        o.trace.length = 0;
        o.log.length = 0;
        o.calls.truncate(0);
        o.violations.length = 0;
        o.notes.length = 0;
      }
    }
    return buildView(v);
  }

  /** The last position whose time is at or before tNs. */
  positionAt(tNs: number): number {
    return positionAt(this.data, tNs);
  }

  /** The position once trace record `id` has been written. */
  positionOfTrace(id: number): number {
    return positionOfTrace(this.data, id);
  }

  get snapshotCount(): number {
    return this.snaps.length;
  }

  /* ------------------------------------------------------------------ */

  private pushEvent(): void {
    const sim = this.rec;
    const o = sim.world.out;
    this.times.push(sim.nowNs);
    this.traceLens.push(o.trace.length);
    this.logLens.push(o.log.length);
    this.callsLens.push(o.calls.length);
  }

  private takeSnapshot(): void {
    const s = this.rec.snapshot();
    // The size of a world changes slowly: estimate it on the first snapshot and every 16th.
    if (this.snaps.length % 16 === 0) this.perSnapBytes = cloneBytes(s.state) + 256;
    this.snaps.push(s);
    this.snapBytes += this.perSnapBytes;
    if (this.snaps.length > this.maxSnaps) this.thin();
  }

  /** Keep every other snapshot (the first always) and take them half as often from now on. */
  private thin(): void {
    const kept = this.snaps.filter((_, i) => i % 2 === 0);
    this.snapBytes = Math.round((this.snapBytes * kept.length) / this.snaps.length);
    this.snaps = kept;
    this.every *= 2;
    this.gap *= 2;
  }

  /** Under the budget, thinning snapshots if need be; else stop recording. */
  private withinBudget(): boolean {
    while (this.estimatedBytes > this.budget) {
      if (this.snaps.length > MIN_SNAPSHOTS) {
        this.thin();
        continue;
      }
      const mib = Math.round(this.budget / (1024 * 1024));
      this.reason =
        `recording stopped at its memory budget (${mib} MiB) after ${this.count} events, ` +
        `at ${this.rec.nowNs / 1000} µs: the run is shown up to there (npm run sim runs it to its end)`;
      this.rec.notes.push(this.reason);
      this.finishRecording();
      this.state = 'stopped';
      return false;
    }
    return true;
  }

  private end(status: RunStatus): void {
    this.status = status;
    const sim = this.rec;
    if (status !== 'done') {
      const limit = status === 'max-time' ? this.endNs : status === 'max-commands' ? sim.commandLimit : this.maxEvents;
      const note = stopNote(status, limit);
      sim.notes.push(note);
      this.reason = note;
      this.state = 'stopped';
    } else this.state = 'done';
    // The end of the run (sim.run() above) may have written deadlock reports: they belong to the last position.
    const last = this.times.n - 1;
    this.traceLens.arr[last] = sim.world.out.trace.length;
    this.logLens.arr[last] = sim.world.out.log.length;
    this.callsLens.arr[last] = sim.world.out.calls.length;
    this.finishRecording();
  }

  private finishRecording(): void {
    this.res = this.rec.result();
    this.scanSteps();
  }

  /** Step positions, marks and sticky records from the trace records written since the last scan. */
  private scanSteps(): void {
    const tr = this.trace;
    const tl = this.traceLens.arr;
    const count = this.count;
    for (let i = this.stepScan; i < tr.length; i++) {
      const r = tr[i]!;
      if (STICKY_KINDS.has(r.kind)) this.stickies.push(r);
      const m = traceMark(r);
      if (m)
        this.marks.push({
          position: positionOfTrace({ traceLen: tl, count }, r.id),
          kind: m.kind,
          label: m.label,
          traceId: r.id,
        });
      if (r.kind !== 'step') continue;
      const e = positionOfTrace({ traceLen: tl, count }, r.id);
      const idx = r.d.index as number;
      if (this.stepPos[idx] === -1) this.stepPos[idx] = e;
    }
    this.stepScan = tr.length;
  }
}
