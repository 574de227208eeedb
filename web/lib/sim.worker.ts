/// <reference lib="webworker" />
/**
 * The simulation runs here, off the page's main thread: a load starts
 * recording the run (a Timeline) and answers with its first slice; the rest
 * is recorded slice by slice (web/lib/recorder.ts) and sent as it comes,
 * while seeks are answered between slices with the view at a position
 * within what is recorded. Seeks that arrive while one is being answered
 * are coalesced: only the newest is answered.
 *
 * The whole record (trace, log, calls) stays here: the page gets the
 * per-event arrays, the marks and the sticky records as they are recorded,
 * and with each view the window it draws beside it (web/lib/page-window.ts);
 * what else it needs from the record it asks for ('window', 'find').
 */
import {
  POLICY_PRESETS,
  Simulation,
  Timeline,
  decodeScenario,
  validateScenario,
  type PolicySpec,
  type ResolvedScenario,
  type SimResult,
} from '../../core/index.ts';
import type { CompareRow, FromWorker, Recorded, ResultSummary, ToWorker } from './protocol.ts';
import { RECORDING_OPTIONS, recordSlice } from './recorder.ts';
import { findRecord, windowUpdate } from './page-window.ts';

declare const self: DedicatedWorkerGlobalScope;

let timeline: Timeline | null = null;
let loaded: ResolvedScenario | null = null;

/** The recording going on: what of it the page has been sent. */
let recording: {
  id: number;
  tl: Timeline;
  t0: number;
  sent: { count: number; markers: number; sticky: number };
  lastPost: number;
} | null = null;

/** The page hears of the recording at most this often (ms) while it goes on. */
const POST_MS = 150;

const now = () => performance.now();

/** Give the message loop a turn (a seek may be waiting), then go on. */
const channel = new MessageChannel();
let resume: (() => void) | null = null;
channel.port1.onmessage = () => {
  const r = resume;
  resume = null;
  r?.();
};
function yieldThen(f: () => void): void {
  resume = f;
  channel.port2.postMessage(null);
}

/** The result document without the lists the page reads through its window. */
function summary(r: SimResult): ResultSummary {
  const { calls: _calls, log: _log, violations: _violations, ...rest } = r;
  return rest;
}

/** What is recorded since the last message, as a message. */
function recorded(r: NonNullable<typeof recording>): Recorded {
  const tl = r.tl;
  const d = tl.data;
  const from = r.sent.count;
  const m: Recorded = {
    type: 'recorded',
    id: r.id,
    from,
    times: d.times.slice(from),
    traceLen: d.traceLen.slice(from),
    logLen: d.logLen.slice(from),
    callsLen: d.callsLen.slice(from),
    markers: tl.markers(r.sent.markers),
    sticky: tl.sticky(r.sent.sticky),
    violations: tl.violations.length,
    stepAt: d.stepAt.slice(),
    recording: d.recording,
    status: d.status,
    stopReason: d.stopReason,
    result: d.recording === 'running' ? null : summary(tl.result),
    recordMs: now() - r.t0,
  };
  r.sent = { count: d.count, markers: r.sent.markers + m.markers.length, sticky: r.sent.sticky + m.sticky.length };
  return m;
}

/** Record one slice of the current recording, answer a waiting seek, tell the page now and then, and go on. */
function recordOn(): void {
  const r = recording;
  if (!r) return;
  if (pendingSeek) answerSeek();
  let state;
  try {
    state = recordSlice(r.tl, now);
  } catch (e) {
    recording = null;
    post({ type: 'failed', id: r.id, message: `the simulation stopped: ${String((e as Error).message ?? e)}` });
    return;
  }
  if (state !== 'running' || now() - r.lastPost >= POST_MS) {
    const m = recorded(r);
    r.lastPost = now();
    post(m, [m.times.buffer, m.traceLen.buffer, m.logLen.buffer, m.callsLen.buffer]);
  }
  if (state !== 'running') {
    recording = null;
    return;
  }
  yieldThen(recordOn);
}

/** Run the loaded scenario under each preset (and its own policy when that changes a flag). */
function compare(): CompareRow[] {
  const sc = loaded!;
  const own = JSON.stringify(sc.policy);
  const specs: PolicySpec[] = [...POLICY_PRESETS];
  if (!specs.some((p) => JSON.stringify(p) === own)) specs.push(sc.policy);
  return specs.map((policy) => {
    const sim = new Simulation(sc, { policy, trace: false });
    sim.run();
    const r = sim.result();
    return {
      policy,
      label: r.policyLabel,
      current: JSON.stringify(policy) === own,
      stats: r.stats,
      devices: r.devices.map((d) => ({ bdf: d.bdf, blocked: d.blocked, atsBroken: d.atsBroken, present: d.present })),
      groups: r.groups.map((g) => ({ id: g.id, recoveryCnt: g.recoveryCnt })),
      logLines: r.log.length,
      failedCalls: r.calls.filter((c) => c.ret.startsWith('-')).length,
      violations: r.violations.length,
      endUs: r.endUs,
    };
  });
}
let pendingSeek: Extract<ToWorker, { type: 'seek' }> | null = null;
let seekScheduled = false;

function post(m: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(m, transfer);
}

function answerSeek(): void {
  seekScheduled = false;
  const s = pendingSeek;
  pendingSeek = null;
  if (!s) return;
  if (!timeline) {
    post({ type: 'failed', id: s.id, message: 'no run is loaded to show a moment of' });
    return;
  }
  try {
    const view = timeline.seek(s.position);
    const win = windowUpdate(timeline, timeline.position, s.ask);
    post({ type: 'view', id: s.id, position: timeline.position, view, window: win }, [view.cmdq.words.buffer]);
  } catch (e) {
    post({ type: 'failed', id: s.id, message: String((e as Error).message ?? e) });
  }
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.type === 'load') {
    pendingSeek = null;
    // A recording going on is given up: the page asked for another run.
    recording = null;
    const v = validateScenario(m.scenario);
    if (!v.ok) {
      post({ type: 'loaded', id: m.id, ok: false, errors: v.errors });
      return;
    }
    try {
      const t0 = now();
      // The run shown until now stays loaded if this one fails.
      const next = new Timeline(v.scenario, { policy: m.policy ?? undefined, ...RECORDING_OPTIONS });
      // The first slice is shown at once; the rest is recorded while the page shows it.
      recordSlice(next, now, 20);
      const view = next.seek(0);
      timeline = next;
      loaded = v.scenario;
      const d = next.data;
      const markers = next.markers();
      const sticky = next.sticky();
      recording = {
        id: m.id,
        tl: next,
        t0,
        sent: { count: d.count, markers: markers.length, sticky: sticky.length },
        lastPost: now(),
      };
      post(
        {
          type: 'loaded',
          id: m.id,
          ok: true,
          resolved: v.scenario,
          data: {
            ...d,
            times: d.times.slice(),
            traceLen: d.traceLen.slice(),
            logLen: d.logLen.slice(),
            callsLen: d.callsLen.slice(),
            stepAt: d.stepAt.slice(),
          },
          markers,
          sticky,
          violations: next.violations.length,
          result: d.recording === 'running' ? null : summary(next.result),
          position: 0,
          view,
          window: windowUpdate(next, 0, m.ask),
          loadMs: now() - t0,
        },
        [view.cmdq.words.buffer],
      );
      if (d.recording === 'running') yieldThen(recordOn);
      else recording = null;
    } catch (e) {
      post({ type: 'failed', id: m.id, message: `the simulation stopped: ${String((e as Error).message ?? e)}` });
    }
    return;
  }
  if (m.type === 'decode') {
    try {
      const d = decodeScenario(m.encoded);
      post({ type: 'decoded', id: m.id, result: d.ok ? { ok: true, raw: d.raw } : { ok: false, error: d.error } });
    } catch (e) {
      post({
        type: 'decoded',
        id: m.id,
        result: { ok: false, error: `it could not be read (${String((e as Error).message ?? e)})` },
      });
    }
    return;
  }
  if (m.type === 'compare') {
    if (!loaded) return;
    try {
      post({ type: 'compared', id: m.id, rows: compare() });
    } catch (e) {
      post({ type: 'failed', id: m.id, message: `the comparison stopped: ${String((e as Error).message ?? e)}` });
    }
    return;
  }
  if (m.type === 'window' || m.type === 'find') {
    if (!timeline) {
      post({ type: 'failed', id: m.id, message: 'no run is loaded to look into' });
      return;
    }
    try {
      if (m.type === 'window') post({ type: 'window', id: m.id, window: windowUpdate(timeline, m.position, m.ask) });
      else post({ type: 'found', id: m.id, traceId: findRecord(timeline, m.find) });
    } catch (e) {
      post({ type: 'failed', id: m.id, message: String((e as Error).message ?? e) });
    }
    return;
  }
  if (m.type === 'seek') {
    pendingSeek = m;
    if (!seekScheduled) {
      seekScheduled = true;
      setTimeout(answerSeek, 0);
    }
  }
};
