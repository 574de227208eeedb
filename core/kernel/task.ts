/**
 * Kernel tasks as resumable state machines over plain data.
 *
 * Kernel code that can wait (poll a CMD_SYNC, take a contended lock, sleep
 * through a reset) is written as a step function over an explicit frame:
 * `{ fn, id, pc, startNs, ...locals }`, one typed interface per kernel
 * function (kernel/fn.ts). A task is a stack of such frames. Because frames
 * are plain data, the whole simulation — kernel threads mid-poll included —
 * can be snapshotted with structuredClone and restored exactly.
 *
 * A step function returns what the task does next:
 *   ret(v)          return v to the caller frame (available as t.rv)
 *   call(frame)     push a callee
 *   sleep(ns)       wait virtual time
 *   lock(name)      take a lock (FIFO; waits while another task holds it)
 *   poll(cond, ns)  wait until cond holds (t.rv = 0) or ns pass (t.rv = -ETIMEDOUT)
 */
import { FN, KERNEL_FN_NAMES, type Frame } from './fn.ts';

export type { Frame };

export type PollCond = { type: 'cmdq_consumed'; prod: number } | { type: 'cmdq_space'; need: number };

export type Wait =
  | { kind: 'runnable'; token: number }
  | { kind: 'sleep'; token: number; untilNs: number }
  | { kind: 'lock'; token: number; lock: string }
  | { kind: 'poll'; token: number; cond: PollCond; deadlineNs: number; timer: number }
  /** Ready to run, waiting for a free CPU since `sinceNs`. */
  | { kind: 'cpu'; token: number; sinceNs: number };

export interface Task {
  id: number;
  /** PID shown in WARN lines. */
  pid: number;
  name: string;
  context: 'task' | 'hardirq' | 'kworker';
  stack: Frame[];
  /** The function-table index of each frame on the stack (its `id`), kept beside it for the scheduler. */
  ids: number[];
  /** Return value of the last callee or wait. */
  rv: number;
  wait: Wait | null;
  token: number;
  /** The causal trace record this task continues from. */
  cause: number;
  /** Locks held, for invariant checks and display. */
  held: string[];
  startNs: number;
  /** The CPU the task runs on, or -1 (it sleeps, waits for a mutex or for a CPU, or is an interrupt handler). */
  cpu: number;
}

export interface LockState {
  owner: number | null;
  waiters: number[];
  kind: 'mutex' | 'spinlock';
}

export type Yield =
  | { y: 'ret'; v: number }
  | { y: 'call'; f: Frame }
  | { y: 'sleep'; ns: number }
  | { y: 'lock'; lock: string }
  | { y: 'poll'; cond: PollCond; timeoutNs: number };

/*
 * The scheduler consumes a step function's Yield before any other step
 * function runs, so the most frequent kinds are reused objects rather than
 * a new allocation per step (a poll's condition is its own object: the
 * waiting task keeps it).
 */
const RET: { y: 'ret'; v: number } = { y: 'ret', v: 0 };
const CALL: { y: 'call'; f: Frame } = { y: 'call', f: { fn: 'step_cmd', id: FN.step_cmd, pc: 'start', startNs: -1 } };
export const ret = (v = 0): Yield => {
  RET.v = v;
  return RET;
};
export const call = (f: Frame): Yield => {
  CALL.f = f;
  return CALL;
};
export const sleep = (ns: number): Yield => ({ y: 'sleep', ns });
export const lock = (name: string): Yield => ({ y: 'lock', lock: name });
const POLL: { y: 'poll'; cond: PollCond; timeoutNs: number } = { y: 'poll', cond: { type: 'cmdq_space', need: 0 }, timeoutNs: 0 };
export const poll = (cond: PollCond, timeoutNs: number): Yield => {
  POLL.cond = cond;
  POLL.timeoutNs = timeoutNs;
  return POLL;
};

/*
 * Frames of the functions every unmap calls (the issue of a batch and the
 * functions around it) are reused once they have returned, like the Yields
 * above: the scheduler hands a returned frame back to the pool of its
 * function (by id), and the function's frame constructor takes one from
 * there before making a new one, setting every field. A frame is only ever
 * referred to from its task's stack (callers pass a new frame to call() and
 * read the callee's result from t.rv), so a returned frame is not read
 * again. The pools are outside the simulation state (a snapshot holds the
 * frames on the stacks only), and a pool keeps a few frames at most.
 */
const FRAME_POOLS: Frame[][] = KERNEL_FN_NAMES.map(() => []);
const FRAME_POOL_MAX = 8;

/** A returned frame of the function with this id, to be reset by its constructor; undefined when none is kept. */
export function reuseFrame(id: number): Frame | undefined {
  return FRAME_POOLS[id]!.pop();
}

/** The scheduler gives back a frame that has returned. */
export function frameReturned(id: number, f: Frame): void {
  const pool = FRAME_POOLS[id]!;
  if (pool.length < FRAME_POOL_MAX) pool.push(f);
}

type PollWait = Extract<Wait, { kind: 'poll' }>;
type RunnableWait = Extract<Wait, { kind: 'runnable' }>;

/*
 * The waits every unmap's tasks go through (a poll, then runnable once it is
 * woken) are reused when they end, like the frames: a wait is referred to
 * from its task only, and once the task has left it nothing reads it again.
 */
const POLL_WAITS: PollWait[] = [];
const RUNNABLE_WAITS: RunnableWait[] = [];
const WAIT_POOL_MAX = 16;

/** A task polls `cond` until `deadlineNs` (its timer event is `timer`). */
export function pollWait(token: number, cond: PollCond, deadlineNs: number, timer: number): Wait {
  const wt = POLL_WAITS.pop();
  if (wt === undefined) return { kind: 'poll', token, cond, deadlineNs, timer };
  wt.token = token;
  wt.cond = cond;
  wt.deadlineNs = deadlineNs;
  wt.timer = timer;
  return wt;
}

/** A task has been woken and runs as its next event. */
export function runnableWait(token: number): Wait {
  const wt = RUNNABLE_WAITS.pop();
  if (wt === undefined) return { kind: 'runnable', token };
  wt.token = token;
  return wt;
}

/** A wait its task has left (the task's `wait` no longer refers to it). */
export function waitEnded(wt: Wait | null): void {
  if (wt === null) return;
  if (wt.kind === 'poll') {
    if (POLL_WAITS.length < WAIT_POOL_MAX) POLL_WAITS.push(wt);
  } else if (wt.kind === 'runnable') {
    if (RUNNABLE_WAITS.length < WAIT_POOL_MAX) RUNNABLE_WAITS.push(wt);
  }
}
