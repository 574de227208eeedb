/**
 * Kernel tasks as resumable state machines over plain data.
 *
 * Kernel code that can wait (poll a CMD_SYNC, take a contended lock, sleep
 * through a reset) is written as a step function over an explicit frame:
 * `{ fn, pc, ...locals }`. A task is a stack of such frames. Because frames
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
export interface FrameBase { fn: string; pc: number; /** Index of `fn` in the function table (set by frame()). */ id?: number }
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Frame = FrameBase & Record<string, any>;

export type PollCond =
  | { type: 'cmdq_consumed'; prod: number }
  | { type: 'cmdq_space'; need: number };

export type Wait =
  | { kind: 'runnable'; token: number }
  | { kind: 'sleep'; token: number; untilNs: number }
  | { kind: 'lock'; token: number; lock: string }
  | { kind: 'poll'; token: number; cond: PollCond; deadlineNs: number; timer: number };

export interface Task {
  id: number;
  /** PID shown in WARN lines. */
  pid: number;
  name: string;
  context: 'task' | 'hardirq' | 'kworker';
  stack: Frame[];
  /**
   * The function-table index of each frame on the stack (fnId of its fn),
   * kept beside it: the scheduler reads this plain array of numbers rather
   * than a field of frames of many shapes.
   */
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
}

export interface LockState { owner: number | null; waiters: number[]; kind: 'mutex' | 'spinlock' }

export type Yield =
  | { y: 'ret'; v: number }
  | { y: 'call'; f: Frame; id: number }
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
const CALL: { y: 'call'; f: Frame; id: number } = { y: 'call', f: { fn: '', pc: 0 }, id: 0 };
export const ret = (v = 0): Yield => { RET.v = v; return RET; };
export const call = (f: Frame): Yield => { CALL.f = f; CALL.id = f.id ?? fnId(f.fn); return CALL; };
export const sleep = (ns: number): Yield => ({ y: 'sleep', ns });
export const lock = (name: string): Yield => ({ y: 'lock', lock: name });
const POLL: { y: 'poll'; cond: PollCond; timeoutNs: number } = { y: 'poll', cond: { type: 'cmdq_space', need: 0 }, timeoutNs: 0 };
export const poll = (cond: PollCond, timeoutNs: number): Yield => { POLL.cond = cond; POLL.timeoutNs = timeoutNs; return POLL; };

/**
 * Build a frame for kernel function `fn` from a fresh object literal of its
 * locals (the literal becomes the frame: one object shape per call site,
 * which keeps property access on frames fast).
 */
export function frame(fn: string, locals: Record<string, unknown> = {}): Frame {
  const f = locals as Frame;
  f.fn = fn;
  f.pc = 0;
  f.startNs = -1;
  f.id = fnId(fn);
  return f;
}

/** Kernel function names to small integers, so running a frame is an array index. */
const FN_IDS = new Map<string, number>();
export function fnId(fn: string): number {
  let id = FN_IDS.get(fn);
  if (id === undefined) {
    id = FN_IDS.size;
    FN_IDS.set(fn, id);
  }
  return id;
}
