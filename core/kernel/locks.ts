/**
 * Kernel locks (mutexes and spinlocks, by name) and the live tasks, by id.
 * Locks are FIFO: on release, ownership moves to the next waiter, which is
 * made runnable. Taking a lock is a Yield the scheduler handles (sched.ts).
 */
import { resumeEvent, schedule } from '../sim/context.ts';
import type { KWorld } from './state.ts';
import { runnableWait, type Task } from './task.ts';

/**
 * Index of the live task with this id, or -1. Tasks are kept in order of id
 * (created in that order, removed in place), so a binary search finds one:
 * an array rather than a map, which a task born and gone every unmap would
 * grow and shrink.
 */
export function taskIndex(w: KWorld, id: number): number {
  const ts = w.k.tasks;
  let lo = 0;
  let hi = ts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = ts[mid]!.id;
    if (m === id) return mid;
    if (m < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** The live task with this id. */
export function taskOf(w: KWorld, id: number): Task | undefined {
  const i = taskIndex(w, id);
  return i < 0 ? undefined : w.k.tasks[i];
}

/** mutex_unlock() / spin_unlock(): hand the lock to the next waiter, if any. */
export function unlock(w: KWorld, t: Task, name: string): void {
  const l = w.k.locks[name];
  if (!l || l.owner !== t.id) {
    w.out.violations.push({
      t: w.s.nowNs,
      invariant: 'lock-owner',
      message: `${t.name} releases ${name} it does not hold`,
      traceId: w.s.cause,
    });
    return;
  }
  t.held = t.held.filter((h) => h !== name);
  const next = l.waiters.shift();
  if (next === undefined) {
    l.owner = null;
    return;
  }
  l.owner = next;
  const t2 = taskOf(w, next);
  if (!t2) {
    l.owner = null;
    return;
  }
  t2.held.push(name);
  const tok = ++t2.token;
  t2.wait = runnableWait(tok);
  t2.rv = 0;
  schedule(w, w.s.nowNs, resumeEvent(t2.id, tok, 0));
}
