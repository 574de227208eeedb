/// <reference lib="webworker" />
/**
 * The simulation runs here, off the page's main thread: a load records the
 * whole run (a Timeline), and each seek answers with the view at a position.
 * Seeks that arrive while one is being answered are coalesced: only the
 * newest is answered.
 */
import {
  POLICY_PRESETS,
  Simulation,
  Timeline,
  decodeScenario,
  validateScenario,
  type PolicySpec,
  type ResolvedScenario,
} from '../../core/index.ts';
import type { CompareRow, FromWorker, ToWorker } from './protocol.ts';

declare const self: DedicatedWorkerGlobalScope;

let timeline: Timeline | null = null;
let loaded: ResolvedScenario | null = null;

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
let pendingSeek: { id: number; position: number } | null = null;
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
    post({ type: 'view', id: s.id, position: timeline.position, view }, [view.cmdq.words.buffer]);
  } catch (e) {
    post({ type: 'failed', id: s.id, message: String((e as Error).message ?? e) });
  }
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.type === 'load') {
    pendingSeek = null;
    const v = validateScenario(m.scenario);
    if (!v.ok) {
      post({ type: 'loaded', id: m.id, ok: false, errors: v.errors });
      return;
    }
    try {
      const t0 = performance.now();
      // The run shown until now stays loaded if this one fails.
      const next = new Timeline(v.scenario, { policy: m.policy ?? undefined });
      const view = next.seek(0);
      timeline = next;
      loaded = v.scenario;
      post(
        {
          type: 'loaded',
          id: m.id,
          ok: true,
          resolved: v.scenario,
          data: timeline.data,
          trace: timeline.trace,
          log: timeline.log,
          calls: timeline.calls,
          violations: timeline.violations,
          result: timeline.result,
          position: 0,
          view,
          loadMs: performance.now() - t0,
        },
        [view.cmdq.words.buffer],
      );
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
  if (m.type === 'seek') {
    pendingSeek = { id: m.id, position: m.position };
    if (!seekScheduled) {
      seekScheduled = true;
      setTimeout(answerSeek, 0);
    }
  }
};
