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
}

export interface QueueState<E> {
  heap: QEntry<E>[];
  seq: number;
}

export function queueInit<E>(): QueueState<E> {
  return { heap: [], seq: 0 };
}

function less<E>(x: QEntry<E>, y: QEntry<E>): boolean {
  return x.t < y.t || (x.t === y.t && (x.pri < y.pri || (x.pri === y.pri && x.seq < y.seq)));
}

export function queuePush<E>(q: QueueState<E>, t: number, ev: E, pri = 1, cause = -1): number {
  const h = q.heap;
  const seq = q.seq++;
  let e = ENTRY_POOL.pop() as QEntry<E> | undefined;
  if (e === undefined) e = { t, pri, seq, ev, cause };
  else {
    e.t = t;
    e.pri = pri;
    e.seq = seq;
    e.ev = ev;
    e.cause = cause;
  }
  h.push(e);
  siftUp(h, h.length - 1);
  return seq;
}

/*
 * Entries that have left the heap (popped and handled, or cancelled) are
 * reused by the next push, so a storm's events do not each allocate one.
 * The pool is outside the simulation state (a snapshot holds the heap's
 * entries only) and keeps a few entries at most.
 */
const ENTRY_POOL: QEntry<unknown>[] = [];
const ENTRY_POOL_MAX = 64;

/** An entry queuePop() returned, once its event has been handled: nothing reads it again. */
export function queueRelease<E>(e: QEntry<E>): void {
  if (ENTRY_POOL.length < ENTRY_POOL_MAX) ENTRY_POOL.push(e as QEntry<unknown>);
}

export function queuePeek<E>(q: QueueState<E>): QEntry<E> | undefined {
  return q.heap[0];
}

export function queuePop<E>(q: QueueState<E>): QEntry<E> | undefined {
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

function siftUp<E>(h: QEntry<E>[], i: number): void {
  const x = h[i]!;
  while (i > 0) {
    const p = (i - 1) >> 1;
    const y = h[p]!;
    if (!less(x, y)) break;
    h[i] = y;
    i = p;
  }
  h[i] = x;
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
 * needed), returning it (undefined when it is not queued): it leaves the heap at once, the last entry taking its place and
 * sifting up or down, so the heap holds only live events (a handful: each
 * waiting task's timer and what the hardware has pending) and every pop is
 * short. The order is (t, pri, seq), a total order, so the events pop in
 * the same order whatever the heap's arrangement. The live events are few,
 * so finding it is a short scan from the most recent.
 */
export function queueRemove<E>(q: QueueState<E>, seq: number): E | undefined {
  if (seq < 0 || seq >= q.seq) return undefined;
  const h = q.heap;
  for (let i = h.length - 1; i >= 0; i--) {
    if (h[i]!.seq !== seq) continue;
    const gone = h[i]!;
    const last = h.pop()!;
    if (i < h.length) {
      h[i] = last;
      if (i > 0 && less(last, h[(i - 1) >> 1]!)) siftUp(h, i);
      else siftDown(h, i);
    }
    queueRelease(gone);
    return gone.ev;
  }
  return undefined;
}

/** Number of queued events. */
export function queueSize<E>(q: QueueState<E>): number {
  return q.heap.length;
}
