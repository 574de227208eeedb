/** The simulation worker, loaded from its own file next to the page (the normal build). */
export function makeSimWorker(): Worker {
  return new Worker(new URL('./sim.worker.ts', import.meta.url), { type: 'module' });
}
