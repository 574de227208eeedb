/**
 * A whole run, recorded so that any moment of it can be shown at once: the
 * scenario runs to its end (one event per consumed command), and the time
 * and the lengths of the trace, log and call list are kept for every event,
 * with a snapshot every K events. seek(e) restores the nearest snapshot at or
 * before event e and steps forward from it — never more than K events —
 * unless the simulation is already between that snapshot and e.
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
import type { TraceRecord } from './trace.ts';
import type { ResolvedScenario } from './scenario/types.ts';
import { buildView, type View } from './view.ts';

export interface TimelineOptions extends SimOptions {
  /** Stop recording after this many events (a run that never settles). */
  maxEvents?: number;
  /** Snapshot interval to start with (it doubles when snapshots get too many). */
  snapshotEvery?: number;
  /** Most snapshots kept. */
  maxSnapshots?: number;
}

export interface TimelineData {
  /** Number of events in the run. Positions go from 0 (before the first event) to count. */
  count: number;
  /** times[e]: virtual time (ns) once e events have run. */
  times: Float64Array;
  /** Lengths of the trace, log and call list once e events have run. */
  traceLen: Uint32Array;
  logLen: Uint32Array;
  callsLen: Uint32Array;
  status: RunStatus;
  /** For each scenario step index, the position right after it ran (-1: it did not run). */
  stepAt: number[];
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

/** The position of a recorded run once trace record `id` has been written. */
export function positionOfTrace(data: Pick<TimelineData, 'traceLen' | 'count'>, id: number): number {
  const tl = data.traceLen;
  let lo = 0,
    hi = data.count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tl[mid]! > id) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export class Timeline {
  readonly data: TimelineData;
  readonly trace: TraceRecord[];
  readonly log: LogLine[];
  readonly calls: CallRecord[];
  readonly violations: Violation[];
  readonly result: SimResult;
  private sim: Simulation;
  private snaps: Snapshot[] = [];
  private every: number;

  constructor(scenario: ResolvedScenario, opts: TimelineOptions = {}) {
    const maxEvents = opts.maxEvents ?? DEFAULT_MAX_EVENTS;
    const maxSnaps = opts.maxSnapshots ?? 2000;
    this.every = opts.snapshotEvery ?? 128;
    this.sim = new Simulation(scenario, { stepwise: true, trace: true, ...opts });
    const sim = this.sim;
    const times: number[] = [sim.nowNs];
    const traceLen: number[] = [sim.out.trace.length];
    const logLen: number[] = [sim.out.log.length];
    const callsLen: number[] = [sim.out.calls.length];
    this.snaps.push(sim.snapshot());
    const endNs = sim.defaultEndNs();
    let status: RunStatus = 'done';
    for (;;) {
      const t = sim.nextEventNs();
      if (t === null) break;
      if (t > endNs) {
        status = 'max-time';
        break;
      }
      if (sim.commandLimitReached()) {
        status = 'max-commands';
        break;
      }
      if (times.length > maxEvents) {
        status = 'max-events';
        break;
      }
      sim.step();
      times.push(sim.nowNs);
      traceLen.push(sim.out.trace.length);
      logLen.push(sim.out.log.length);
      callsLen.push(sim.out.calls.length);
      if ((times.length - 1) % this.every === 0) {
        this.snaps.push(sim.snapshot());
        if (this.snaps.length > maxSnaps) {
          // Keep every other snapshot and take them half as often from now on.
          this.snaps = this.snaps.filter((s) => (s.events / this.every) % 2 === 0);
          this.every *= 2;
        }
      }
    }
    if (status === 'done') sim.run();
    else
      sim.notes.push(stopNote(status, status === 'max-time' ? endNs : status === 'max-commands' ? sim.commandLimit : maxEvents));
    this.result = sim.result();
    const count = times.length - 1;
    this.trace = sim.out.trace.slice();
    this.log = sim.out.log.slice();
    this.calls = sim.out.calls.slice();
    this.violations = sim.out.violations.slice();
    const stepAt = new Array<number>(sim.allSteps.length).fill(-1);
    let e = 0;
    for (const r of this.trace) {
      if (r.kind !== 'step') continue;
      while (e < count && traceLen[e]! <= r.id) e++;
      const idx = r.d.index as number;
      if (stepAt[idx] === -1) stepAt[idx] = e;
    }
    this.data = {
      count,
      times: Float64Array.from(times),
      traceLen: Uint32Array.from(traceLen),
      logLen: Uint32Array.from(logLen),
      callsLen: Uint32Array.from(callsLen),
      status,
      stepAt,
    };
  }

  /** Position of the simulation now. */
  get position(): number {
    return this.sim.eventsProcessed;
  }

  /** Move to position e (0..count) and return the view there. */
  seek(e: number): View {
    const target = Math.max(0, Math.min(this.data.count, Math.floor(e)));
    const cur = this.sim.eventsProcessed;
    let snap: Snapshot | undefined;
    for (let lo = 0, hi = this.snaps.length - 1; lo <= hi;) {
      const mid = (lo + hi) >> 1;
      if (this.snaps[mid]!.events <= target) {
        snap = this.snaps[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (!(cur <= target && snap !== undefined && cur >= snap.events)) this.sim.restore(snap ?? this.snaps[0]!);
    while (this.sim.eventsProcessed < target) {
      if (!this.sim.step()) break;
    }
    return buildView(this.sim);
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
}
