/**
 * printk, dev_*() and WARN_ON() as the kernel prints them: a dmesg
 * timestamp "[%5lu.%06lu] ", then "<driver> <device>: " for device messages.
 * Ratelimited helpers follow lib/ratelimit.c (interval 5 s, burst 10) and
 * print "<func>: N callbacks suppressed" when a new interval starts.
 */
import type { LogLevel } from '../sim/context.ts';
import { emit } from './trace.ts';
import type { KWorld } from './state.ts';

export const SMMU_DEV = 'arm-smmu-v3 arm-smmu-v3.0.auto';
export const DEFAULT_RATELIMIT_INTERVAL_NS = 5_000_000_000;
export const DEFAULT_RATELIMIT_BURST = 10;

export function dmesgTime(ns: number): string {
  const us = Math.floor(ns / 1000);
  const sec = Math.floor(us / 1_000_000);
  const frac = us % 1_000_000;
  return `[${String(sec).padStart(5, ' ')}.${String(frac).padStart(6, '0')}]`;
}

export function printk(w: KWorld, level: LogLevel, text: string, d: { dev?: string; warn?: string } = {}): void {
  const traceId = emit(w, 'log', { level, text, ...d });
  w.out.log.push({ t: w.s.nowNs, level, text: `${dmesgTime(w.s.nowNs)} ${text}`, traceId });
}

/** "nvme 0000:01:00.0" (the bound driver's name, else the bus name). */
export function devName(w: KWorld, bdf: string): string {
  const ep = w.pci.endpoints[bdf];
  return `${ep?.driver ?? 'pci'} ${bdf}`;
}

export function smmuLog(w: KWorld, level: LogLevel, msg: string): void {
  printk(w, level, `${SMMU_DEV}: ${msg}`, { dev: 'smmu' });
}

export function devLog(w: KWorld, level: LogLevel, bdf: string, msg: string): void {
  printk(w, level, `${devName(w, bdf)}: ${msg}`, { dev: bdf });
}

/**
 * __ratelimit() on the ratelimit state of one call site: true when it may
 * print now. dev_*_ratelimited() and friends define that state `static` in
 * the macro's expansion, so one call site has one state, shared by every
 * device that reaches it; the site is named here by its function and the
 * message's format string. When a new interval starts with calls missed,
 * "<func>: N callbacks suppressed" is printed first (lib/ratelimit.c).
 */
export function ratelimitOk(w: KWorld, func: string, fmt: string): boolean {
  const site = `${func}: ${fmt}`;
  let rs = w.k.ratelimit[site];
  const t = w.s.nowNs;
  if (!rs) {
    rs = { begin: t, printed: 0, missed: 0 };
    w.k.ratelimit[site] = rs;
  }
  if (t >= rs.begin + DEFAULT_RATELIMIT_INTERVAL_NS) {
    if (rs.missed) printk(w, 'warn', `${func}: ${rs.missed} callbacks suppressed`);
    rs.begin = t;
    rs.printed = 0;
    rs.missed = 0;
  }
  if (rs.printed < DEFAULT_RATELIMIT_BURST) {
    rs.printed++;
    return true;
  }
  rs.missed++;
  return false;
}

/** dev_err_ratelimited(smmu->dev, fmt, ...): `msg` is `fmt` with its arguments printed (default: no arguments). */
export function smmuLogRatelimited(w: KWorld, level: LogLevel, func: string, fmt: string, msg = fmt): void {
  if (ratelimitOk(w, func, fmt)) smmuLog(w, level, msg);
}

/** dev_*_ratelimited(&pdev->dev, fmt): one state for the call site, whichever device prints. */
export function devLogRatelimited(w: KWorld, level: LogLevel, func: string, bdf: string, fmt: string, msg = fmt): void {
  if (ratelimitOk(w, func, fmt)) devLog(w, level, bdf, msg);
}

/** WARN_ON(): the "cut here" banner and the WARNING line. */
export function warnOn(w: KWorld, pid: number, file: string, func: string, cond: string): void {
  printk(w, 'warn', '------------[ cut here ]------------', { warn: cond });
  printk(w, 'warn', `WARNING: CPU: 0 PID: ${pid} at ${file} ${func}`, { warn: cond });
  printk(w, 'warn', '---[ end trace 0000000000000000 ]---', { warn: cond });
  emit(w, 'warn_on', { func, cond });
}

/** "%#x": 0 prints as "0", others as "0x..". */
export function hashx(v: number): string {
  return v === 0 ? '0' : '0x' + v.toString(16);
}
