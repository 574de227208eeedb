/**
 * The scheduler for kernel tasks: runs frames until they wait, wakes them
 * on time, lock hand-over and poll conditions, and detects runaway loops.
 */
import { cancel, resumeEvent, schedule, timeoutEvent } from '../sim/context.ts';
import { emit, note } from './trace.ts';
import { queueConsumed, queueSpace, ARM_SMMU_CMDQ_CONS } from '../hw/regs.ts';
import { consRd, readReg } from '../hw/smmu.ts';
import type { KWorld } from './state.ts';
import { frameReturned, pollWait, runnableWait, waitEnded, type Frame, type PollCond, type Task } from './task.ts';
import { STEP_FNS } from './fns.ts';
import { taskIndex, taskOf, unlock } from './locks.ts';
import { ETIMEDOUT } from './util.ts';
import { gerrorHandlerFrame } from './cmdq.ts';

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
      cpu: -1,
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
    t.cpu = -1;
  }
  w.k.tasks.push(t);
  t.cause = w.traceOn ? note(w, 'task.start', { task: id, name, context, fn: f.fn }) : -1;
  if (t.cause < 0) t.cause = w.s.cause;
  // A kernel call or a worker runs on a CPU; an interrupt handler borrows the CPU it interrupts.
  if (context !== 'hardirq' && !takeCpu(w, t)) {
    waitCpu(w, t);
    return t;
  }
  runTask(w, t);
  return t;
}

/* ---------------------------------------------------------------- CPUs */

/**
 * The CPU the GERROR interrupt is affined to. The GIC routes an SPI to one
 * CPU of its affinity mask, the first online one by default (CPU 0).
 */
export const GERROR_IRQ_CPU = 0;

/**
 * Put `t` on a free CPU: the highest-numbered one, so that CPU 0, which
 * takes the GERROR interrupt, is the last to be given a task. False when
 * every CPU is taken.
 */
function takeCpu(w: KWorld, t: Task): boolean {
  const cpus = w.k.cpus;
  for (let c = cpus.length - 1; c >= 0; c--) {
    if (cpus[c]! < 0) {
      cpus[c] = t.id;
      t.cpu = c;
      return true;
    }
  }
  return false;
}

/** A task started now would run at once: a CPU is idle and no task waits for one. */
export function cpuFree(w: KWorld): boolean {
  if (w.k.cpuWaiters.length > 0) return false;
  const cpus = w.k.cpus;
  for (let c = cpus.length - 1; c >= 0; c--) if (cpus[c]! < 0) return true;
  return false;
}

/** `t` is ready but has no CPU: it waits for one, after the tasks already waiting. */
function waitCpu(w: KWorld, t: Task): void {
  const tok = ++t.token;
  t.wait = { kind: 'cpu', token: tok, sinceNs: w.s.nowNs };
  w.k.cpuWaiters.push(t.id);
  t.cause = emit(w, 'cpu.wait', { task: t.id, name: t.name, cpus: w.k.cpus.length }, t.cause);
  if (t.cause < 0) t.cause = w.s.cause;
}

/**
 * `t` gives up its CPU (it sleeps, waits for a mutex or has finished). A
 * GERROR interrupt held back on that CPU is taken first; then the first
 * task waiting for a CPU gets it and runs as the next event at this time.
 */
function releaseCpu(w: KWorld, t: Task): void {
  const c = t.cpu;
  if (c < 0) return;
  const cpus = w.k.cpus;
  cpus[c] = -1;
  t.cpu = -1;
  if (c === GERROR_IRQ_CPU && w.k.gerrorIrqWaitNs >= 0) takeGerrorIrq(w);
  const waiters = w.k.cpuWaiters;
  while (waiters.length > 0 && cpus[c]! < 0) {
    const id = waiters.shift()!;
    const t2 = taskOf(w, id);
    if (t2 === undefined || t2.wait === null || t2.wait.kind !== 'cpu') continue;
    cpus[c] = id;
    t2.cpu = c;
    const waited = w.s.nowNs - t2.wait.sinceNs;
    const tok = ++t2.token;
    t2.wait = runnableWait(tok);
    const cause = emit(w, 'cpu.run', { task: id, name: t2.name, cpu: c, waitedNs: waited }, t2.cause);
    if (cause >= 0) t2.cause = cause;
    schedule(w, w.s.nowNs, resumeEvent(id, tok, t2.rv), t2.cause);
  }
}

/**
 * Why the task on a CPU has interrupts masked, or null. arm_smmu_cmdq_issue_cmdlist()
 * runs under local_irq_save() except while it waits for queue space, so its
 * CMD_SYNC poll spins with interrupts off; ats_broken_lock is taken with
 * spin_lock_irqsave() (seed 003 #18), waiting for it included.
 */
function irqsMaskedBy(w: KWorld, t: Task): string | null {
  const top = t.stack.length - 1;
  if (top >= 0) {
    const f = t.stack[top]!;
    if (f.fn === 'arm_smmu_cmdq_issue_cmdlist' && f.pc === 'sync_polled') return 'polls its CMD_SYNC under local_irq_save()';
  }
  const wt = t.wait;
  if (wt !== null && wt.kind === 'lock' && w.k.locks[wt.lock]?.kind === 'spinlock') return `spins on ${wt.lock} (irqsave)`;
  for (const h of t.held) if (w.k.locks[h]?.kind === 'spinlock') return `holds ${h} (irqsave)`;
  return null;
}

/** The task that keeps the GERROR interrupt's CPU from taking it now, with why; null when it can. */
function gerrorIrqBlocker(w: KWorld): { t: Task; why: string } | null {
  const id = w.k.cpus[GERROR_IRQ_CPU]!;
  if (id < 0) return null;
  const t = taskOf(w, id);
  if (t === undefined) return null;
  const why = irqsMaskedBy(w, t);
  return why === null ? null : { t, why };
}

/** The GERROR interrupt line fires: its handler runs now, or once its CPU unmasks interrupts. */
export function gerrorIrq(w: KWorld): void {
  const b = gerrorIrqBlocker(w);
  if (b !== null) {
    if (w.k.gerrorIrqWaitNs < 0) {
      w.k.gerrorIrqWaitNs = w.s.nowNs;
      emit(w, 'irq.masked', { irq: 'gerror', cpu: GERROR_IRQ_CPU, task: b.t.id, name: b.t.name, why: b.why });
    }
    return;
  }
  runGerrorHandler(w);
}

function runGerrorHandler(w: KWorld): void {
  emit(w, 'irq.gerror', {});
  spawn(w, 'arm_smmu_gerror_handler', gerrorHandlerFrame(), 'hardirq');
}

/** The GERROR interrupt's CPU may have unmasked interrupts: take the interrupt waiting for it. */
function takeGerrorIrq(w: KWorld): void {
  if (w.k.gerrorIrqWaitNs < 0 || gerrorIrqBlocker(w) !== null) return;
  const cause = w.s.cause;
  emit(w, 'irq.unmasked', { irq: 'gerror', cpu: GERROR_IRQ_CPU, waitedNs: w.s.nowNs - w.k.gerrorIrqWaitNs });
  w.k.gerrorIrqWaitNs = -1;
  runGerrorHandler(w);
  w.s.cause = cause;
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
    // A GERROR interrupt held back on this CPU is taken as soon as the task
    // unmasks interrupts: on leaving arm_smmu_cmdq_issue_cmdlist()
    // (local_irq_restore()) or on releasing ats_broken_lock, before the
    // task's next statement.
    if (w.k.gerrorIrqWaitNs >= 0 && t.cpu === GERROR_IRQ_CPU) takeGerrorIrq(w);
    const top = stack.length - 1;
    const f = stack[top]!;
    const y = STEP_FNS[ids[top]!]!(w, t, f);
    switch (y.y) {
      case 'ret':
        frameReturned(ids.pop()!, stack.pop()!);
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
        schedule(w, w.s.nowNs + y.ns, resumeEvent(t.id, tok, 0));
        releaseCpu(w, t);
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
        // A mutex sleeps (the CPU goes to others); a spinlock spins on it.
        if (l.kind === 'mutex') releaseCpu(w, t);
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
        const timer = schedule(w, deadline, timeoutEvent(t.id, tok));
        t.wait = pollWait(tok, y.cond, deadline, timer);
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
  releaseCpu(w, t);
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
    t.wait = runnableWait(tok);
    waitEnded(wt);
    t.cause = w.smmu.consCause >= 0 ? w.smmu.consCause : t.cause;
    schedule(w, w.s.nowNs, resumeEvent(t.id, tok, 0), t.cause);
  }
  // Popped rather than cut with `length =`, which would hand an emptied
  // list's storage back and make the next poll grow it again.
  while (pollers.length > keep) pollers.pop();
}

export function onTaskResume(w: KWorld, taskId: number, token: number, rv: number): void {
  const t = taskOf(w, taskId);
  if (!t || !t.wait || t.wait.token !== token) return;
  waitEnded(t.wait);
  t.wait = null;
  t.rv = rv;
  if (w.s.cause >= 0) t.cause = w.s.cause;
  // Woken from a sleep or a mutex: it needs a CPU again.
  if (t.cpu < 0 && t.context !== 'hardirq' && !takeCpu(w, t)) {
    waitCpu(w, t);
    return;
  }
  runTask(w, t);
}

export function onTaskTimeout(w: KWorld, taskId: number, token: number): void {
  const t = taskOf(w, taskId);
  if (!t || !t.wait || t.wait.kind !== 'poll' || t.wait.token !== token) return;
  dropPoller(w, taskId);
  waitEnded(t.wait);
  t.wait = null;
  t.rv = ETIMEDOUT;
  t.cause = emit(w, 'poll.timeout', { task: t.id, name: t.name, cons: readReg(w, ARM_SMMU_CMDQ_CONS) }, t.cause);
  runTask(w, t);
}
