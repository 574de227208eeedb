/// <reference lib="webworker" />
/**
 * The simulation runs here, off the page's main thread: a load records the
 * whole run (a Timeline), and each seek answers with the view at a position.
 * Seeks that arrive while one is being answered are coalesced: only the
 * newest is answered.
 */
import { Timeline, validateScenario } from '../../core/index.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

declare const self: DedicatedWorkerGlobalScope;

let timeline: Timeline | null = null;
let pendingSeek: { id: number; position: number } | null = null;
let seekScheduled = false;

function post(m: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(m, transfer);
}

function answerSeek(): void {
  seekScheduled = false;
  const s = pendingSeek;
  pendingSeek = null;
  if (!s || !timeline) return;
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
      timeline = new Timeline(v.scenario, { policy: m.policy ?? undefined });
      const view = timeline.seek(0);
      post({
        type: 'loaded', id: m.id, ok: true, resolved: v.scenario, data: timeline.data, trace: timeline.trace,
        log: timeline.log, calls: timeline.calls, violations: timeline.violations, result: timeline.result,
        position: 0, view, loadMs: performance.now() - t0,
      }, [view.cmdq.words.buffer]);
    } catch (e) {
      timeline = null;
      post({ type: 'failed', id: m.id, message: `the simulation stopped: ${String((e as Error).message ?? e)}` });
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
