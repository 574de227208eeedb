/**
 * The scheduler for kernel tasks: runs frames until they wait, wakes them
 * on time, lock hand-over and poll conditions, and detects runaway loops.
 */
import { cancel, schedule } from '../sim/context.ts';
import { emit, note } from './trace.ts';
import { queueConsumed, queueSpace, ARM_SMMU_CMDQ_CONS } from '../hw/regs.ts';
import { consRd, readReg } from '../hw/smmu.ts';
import type { KWorld } from './state.ts';
import type { Frame, PollCond, Task } from './task.ts';
import { STEP_FNS } from './fns.ts';
import { taskIndex, taskOf, unlock } from './locks.ts';
import { ETIMEDOUT } from './util.ts';

const MAX_STEPS_PER_RUN = 200_000;

/**
 * Start a task and run it until it first waits. The task returned may
 * already have finished, and its object been kept for the next spawn
 * (KernelState.taskPool): hold on to its id, not to the object.
 */
export function spawn(w: KWorld, name: string, f: Frame, context: Task['context'] = 'task'): Task {
  const id = w.k.nextTask++;
  if (!(f.startNs >= 0)) f.startNs = w.s.nowNs;
  const fid = f.id;
  const pid = context === 'hardirq' ? 0 : 100 + id;
  let t = w.k.taskPool.pop();
  if (t === undefined) {
    t = {
      id,
      pid,
      name,
      context,
      stack: [f],
      ids: [fid],
      rv: 0,
      wait: null,
      token: 0,
      cause: w.s.cause,
      held: [],
      startNs: w.s.nowNs,
    };
  } else {
    t.id = id;
    t.pid = pid;
    t.name = name;
    t.context = context;
    t.stack.push(f);
    t.ids.push(fid);
    t.rv = 0;
    t.wait = null;
    t.token = 0;
    t.cause = w.s.cause;
    t.startNs = w.s.nowNs;
  }
  w.k.tasks.push(t);
  t.cause = w.traceOn ? note(w, 'task.start', { task: id, name, context, fn: f.fn }) : -1;
  if (t.cause < 0) t.cause = w.s.cause;
  runTask(w, t);
  return t;
}

function removeTask(w: KWorld, t: Task): void {
  const ts = w.k.tasks;
  const i = taskIndex(w, t.id);
  if (i < 0) return;
  for (let j = i; j < ts.length - 1; j++) ts[j] = ts[j + 1]!;
  ts.pop();
  // Its stacks are empty; its lock list too (a leak was reported and released above).
  if (t.stack.length === 0 && t.ids.length === 0 && t.held.length === 0) w.k.taskPool.push(t);
}

export function runTask(w: KWorld, t: Task): void {
  w.s.cause = t.cause;
  let n = 0;
  const stack = t.stack;
  const ids = t.ids;
  while (stack.length > 0) {
    if (++n > MAX_STEPS_PER_RUN) {
      w.out.violations.push({
        t: w.s.nowNs,
        invariant: 'task-progress',
        message: `task ${t.name} made no progress in ${MAX_STEPS_PER_RUN} steps (in ${stack[stack.length - 1]!.fn})`,
        traceId: w.s.cause,
      });
      stack.length = 0;
      ids.length = 0;
      break;
    }
    const top = stack.length - 1;
    const f = stack[top]!;
    const y = STEP_FNS[ids[top]!]!(w, t, f);
    switch (y.y) {
      case 'ret':
        stack.pop();
        ids.pop();
        t.rv = y.v;
        continue;
      case 'call':
        if (!(y.f.startNs >= 0)) y.f.startNs = w.s.nowNs;
        stack.push(y.f);
        ids.push(y.f.id);
        continue;
      case 'sleep': {
        const tok = ++t.token;
        t.wait = { kind: 'sleep', token: tok, untilNs: w.s.nowNs + y.ns };
        t.cause = w.s.cause;
        schedule(w, w.s.nowNs + y.ns, { k: 'task.resume', task: t.id, token: tok, ret: 0 });
        return;
      }
      case 'lock': {
        const l = (w.k.locks[y.lock] ??= { owner: null, waiters: [], kind: y.lock.startsWith('mutex:') ? 'mutex' : 'spinlock' });
        if (l.owner === null) {
          l.owner = t.id;
          t.held.push(y.lock);
          t.rv = 0;
          continue;
        }
        if (l.owner === t.id) {
          w.out.violations.push({
            t: w.s.nowNs,
            invariant: 'lock-recursion',
            message: `${t.name} takes ${y.lock} twice (deadlock in the kernel)`,
            traceId: w.s.cause,
          });
          stack.length = 0;
          ids.length = 0;
          break;
        }
        l.waiters.push(t.id);
        const tok = ++t.token;
        t.wait = { kind: 'lock', token: tok, lock: y.lock };
        t.cause = emit(w, 'lock.wait', { task: t.id, name: t.name, lock: y.lock, owner: l.owner });
        return;
      }
      case 'poll': {
        if (pollSatisfied(w, y.cond)) {
          t.rv = 0;
          continue;
        }
        const tok = ++t.token;
        const deadline = w.s.nowNs + y.timeoutNs;
        t.cause = w.s.cause;
        const timer = schedule(w, deadline, { k: 'task.timeout', task: t.id, token: tok });
        t.wait = { kind: 'poll', token: tok, cond: y.cond, deadlineNs: deadline, timer };
        w.k.pollers.push(t.id);
        if (y.cond.type === 'cmdq_space') w.smmu.spaceWaiters++;
        return;
      }
    }
  }
  // Finished.
  if (t.held.length > 0) {
    w.out.violations.push({
      t: w.s.nowNs,
      invariant: 'lock-leak',
      message: `${t.name} finished holding ${t.held.join(', ')}`,
      traceId: w.s.cause,
    });
    for (const h of [...t.held]) unlock(w, t, h);
  }
  removeTask(w, t);
}

function pollSatisfied(w: KWorld, c: PollCond): boolean {
  const shift = w.smmu.cmdqShift;
  const cons = consRd(w);
  return condHolds(c, shift, cons, queueSpace(shift, w.k.cmdq.prod, cons));
}

/** A poll condition against the hardware CONS and the space it leaves behind the shadow PROD. */
function condHolds(c: PollCond, shift: number, cons: number, space: number): boolean {
  return c.type === 'cmdq_consumed' ? queueConsumed(shift, cons, c.prod) : space >= c.need;
}

function dropPoller(w: KWorld, id: number): void {
  const ps = w.k.pollers;
  const i = ps.indexOf(id);
  if (i < 0) return;
  // Removed in place: splice() would allocate the array of removed ids.
  for (let j = i; j < ps.length - 1; j++) ps[j] = ps[j + 1]!;
  ps.pop();
  const wt = taskOf(w, id)?.wait;
  if (wt && wt.kind === 'poll' && wt.cond.type === 'cmdq_space') w.smmu.spaceWaiters--;
}

/**
 * Wake pollers whose condition now holds (called after every event). Their
 * conditions depend only on the hardware CONS, so they are re-checked only
 * when CONS has changed.
 */
export function checkPollers(w: KWorld): void {
  const pollers = w.k.pollers;
  if (pollers.length === 0 || w.smmu.consGen === w.k.pollCheckedGen) return;
  w.k.pollCheckedGen = w.smmu.consGen;
  // Every condition reads the same CONS and shadow PROD: worked out once
  // (pollSatisfied() for all pollers at once; with many waiting for queue
  // space this runs on every CONS move).
  const shift = w.smmu.cmdqShift;
  const cons = consRd(w);
  const space = queueSpace(shift, w.k.cmdq.prod, cons);
  // One pass, in the order the pollers started waiting: those still waiting
  // stay in the list (moved up in place), the others leave it and the ones
  // whose wait is a poll are woken. Waking only schedules the task, so no
  // condition read later in the pass changes.
  const n = pollers.length;
  let keep = 0;
  for (let i = 0; i < n; i++) {
    const id = pollers[i]!;
    const t = taskOf(w, id);
    const wt = t === undefined ? null : t.wait;
    if (wt !== null && wt.kind === 'poll' && !condHolds(wt.cond, shift, cons, space)) {
      pollers[keep++] = id;
      continue;
    }
    if (t === undefined || wt === null || wt.kind !== 'poll') continue;
    if (wt.cond.type === 'cmdq_space') w.smmu.spaceWaiters--;
    cancel(w, wt.timer);
    const tok = ++t.token;
    t.wait = { kind: 'runnable', token: tok };
    t.cause = w.smmu.consCause >= 0 ? w.smmu.consCause : t.cause;
    schedule(w, w.s.nowNs, { k: 'task.resume', task: t.id, token: tok, ret: 0 }, t.cause);
  }
  // Popped rather than cut with `length =`, which would hand an emptied
  // list's storage back and make the next poll grow it again.
  while (pollers.length > keep) pollers.pop();
}

export function onTaskResume(w: KWorld, taskId: number, token: number, rv: number): void {
  const t = taskOf(w, taskId);
  if (!t || !t.wait || t.wait.token !== token) return;
  t.wait = null;
  t.rv = rv;
  if (w.s.cause >= 0) t.cause = w.s.cause;
  runTask(w, t);
}

export function onTaskTimeout(w: KWorld, taskId: number, token: number): void {
  const t = taskOf(w, taskId);
  if (!t || !t.wait || t.wait.kind !== 'poll' || t.wait.token !== token) return;
  dropPoller(w, taskId);
  t.wait = null;
  t.rv = ETIMEDOUT;
  t.cause = emit(w, 'poll.timeout', { task: t.id, name: t.name, cons: readReg(w, ARM_SMMU_CMDQ_CONS) }, t.cause);
  runTask(w, t);
}
