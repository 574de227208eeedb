/**
 * Deterministic event queue: a binary min-heap ordered by (time, priority,
 * seq). `seq` is assigned at insertion, so events at the same virtual time
 * and priority run in the order they were scheduled. Scenario steps use
 * priority 0 and everything else 1, so a step added at time T behaves exactly
 * as if it had been in the scenario file from the start. Entries are plain
 * data (snapshot-safe).
 */
export interface QEntry<E> {
  t: number;
  pri: number;
  seq: number;
  ev: E;
  /** The trace id that scheduled the event (-1: none). */
  cause: number;
  /** Cancelled: skipped when it reaches the top. */
  dead: boolean;
}

export interface QueueState<E> {
  heap: QEntry<E>[];
  seq: number;
  /** Number of cancelled entries still in the heap. */
  dead: number;
}

export function queueInit<E>(): QueueState<E> { return { heap: [], seq: 0, dead: 0 }; }

function less<E>(x: QEntry<E>, y: QEntry<E>): boolean {
  return x.t < y.t || (x.t === y.t && (x.pri < y.pri || (x.pri === y.pri && x.seq < y.seq)));
}

export function queuePush<E>(q: QueueState<E>, t: number, ev: E, pri = 1, cause = -1): number {
  const h = q.heap;
  const e: QEntry<E> = { t, pri, seq: q.seq++, ev, cause, dead: false };
  h.push(e);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    const y = h[p]!;
    if (!less(e, y)) break;
    h[i] = y;
    i = p;
  }
  h[i] = e;
  return e.seq;
}

export function queuePeek<E>(q: QueueState<E>): QEntry<E> | undefined {
  if (q.dead > 0) dropCancelled(q);
  return q.heap[0];
}

function dropCancelled<E>(q: QueueState<E>): void {
  const h = q.heap;
  while (h.length > 0 && h[0]!.dead) {
    q.dead--;
    popTop(q);
  }
}

export function queuePop<E>(q: QueueState<E>): QEntry<E> | undefined {
  if (q.dead > 0) dropCancelled(q);
  return popTop(q);
}

function popTop<E>(q: QueueState<E>): QEntry<E> | undefined {
  const h = q.heap;
  if (h.length === 0) return undefined;
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length > 0) {
    h[0] = last;
    siftDown(h, 0);
  }
  return top;
}

function siftDown<E>(h: QEntry<E>[], i: number): void {
  const n = h.length;
  const x = h[i]!;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && less(h[r]!, h[l]!) ? r : l;
    if (!less(h[c]!, x)) break;
    h[i] = h[c]!;
    i = c;
  }
  h[i] = x;
}

/**
 * Cancel the event with sequence number `seq` (a timer that is no longer
 * needed): it is marked and skipped when it reaches the top. The live
 * events are few, so finding it is a short scan from the most recent.
 */
export function queueRemove<E>(q: QueueState<E>, seq: number): void {
  if (seq < 0 || seq >= q.seq) return;
  const h = q.heap;
  for (let i = h.length - 1; i >= 0; i--) {
    const e = h[i]!;
    if (e.seq !== seq) continue;
    if (!e.dead) {
      e.dead = true;
      q.dead++;
      // Timers are mostly cancelled long before they are due (a poll that
      // ends early): once they make up half the heap, drop them all at once
      // so the heap stays as small as the live events. Order is (t, pri,
      // seq), a total order, so the rebuilt heap pops in the same order.
      if (q.dead >= 32 && q.dead * 2 >= h.length) compact(q);
    }
    return;
  }
}

function compact<E>(q: QueueState<E>): void {
  const live = q.heap.filter((e) => !e.dead);
  q.dead = 0;
  q.heap = live;
  for (let i = (live.length >> 1) - 1; i >= 0; i--) siftDown(live, i);
}

/** Number of live (not cancelled) entries. */
export function queueSize<E>(q: QueueState<E>): number {
  return q.heap.length - q.dead;
}
