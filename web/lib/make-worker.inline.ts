/**
 * The simulation worker of the single-file build (build/single-file.ts): the
 * same sim.worker.ts, its code inlined in the page and started from a blob:
 * URL, since a page opened from file:// may load no other file.
 */
import SimWorker from './sim.worker.ts?worker&inline';

export function makeSimWorker(): Worker {
  return new SimWorker();
}
