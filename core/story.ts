/**
 * The story of a recorded run, as the page tells it: a caption saying in
 * words what the last event did (the words of its trace records, the same
 * the causal chain shows), the scenario's chapters placed on the run, and
 * the stops the presenter keys and Play go to.
 */
import type { Chapter } from './scenario/types.ts';
import type { TimelineData } from './timeline.ts';
import { positionAt, upperBound } from './timeline.ts';
import { describeRecord, traceIsDetail, traceMark, type TraceRecord } from './trace.ts';

type Positions = Pick<TimelineData, 'traceLen' | 'count'>;

/** The trace records event `position` wrote ([from, to)); position 0 holds what was written before the first event. */
export function eventRecordRange(data: Positions, position: number): { from: number; to: number } {
  const p = Math.max(0, Math.min(data.count, Math.floor(position)));
  return { from: p === 0 ? 0 : data.traceLen[p - 1]!, to: data.traceLen[p]! };
}

/**
 * The record that says best what an event did: the first with a timeline
 * mark (a fault, an error, a state change, a corruption), else the first
 * that is not a detail of the mechanics (a task starting, a command
 * written, PROD published, a call returning), else the first.
 */
export function eventHeadline(trace: readonly TraceRecord[], from: number, to: number): TraceRecord | null {
  let plain: TraceRecord | null = null;
  for (let i = from; i < Math.min(to, trace.length); i++) {
    const r = trace[i]!;
    if (traceMark(r) !== null) return r;
    if (plain === null && !traceIsDetail(r)) plain = r;
  }
  return plain ?? (from < Math.min(to, trace.length) ? trace[from]! : null);
}

/** The caption at a position: its headline record and one line for it, or null before anything has happened. */
export function captionAt(
  trace: readonly TraceRecord[],
  data: Positions,
  position: number,
): { record: TraceRecord; text: string } | null {
  // An event with no records of its own (a timer that found nothing to do) is captioned by the one before it.
  for (let p = Math.max(0, Math.min(data.count, Math.floor(position))); p >= 0; p--) {
    const { from, to } = eventRecordRange(data, p);
    const r = eventHeadline(trace, from, to);
    if (r) return { record: r, text: describeRecord(r) };
  }
  return null;
}

/**
 * Where each chapter begins in a recorded run: the last position at or
 * before its time (the state once everything due by then has run), or null
 * while the run is not yet recorded that far.
 */
export function chapterPositions(
  chapters: readonly Chapter[],
  data: Pick<TimelineData, 'times' | 'count' | 'recording'>,
): Array<number | null> {
  const end = data.times[data.count]!;
  return chapters.map((c) => {
    const tNs = c.at * 1000;
    if (data.recording === 'running' && tNs > end) return null;
    return positionAt(data, tNs);
  });
}

/** The chapter shown at a position, and whether its narration still goes with the caption. */
export interface StoryNow {
  /** Index in the scenario's chapters. */
  index: number;
  chapter: Chapter;
  /** True from the chapter's position until the next event of note after it. */
  narrate: boolean;
}

/**
 * The chapter a position is in (the last one that begins at or before it),
 * and whether its narration goes with the caption: from where it begins
 * until the first event of note (a marked record) after that.
 * `markers` are the positions of the events of note, in order.
 */
export function storyAt(
  chapters: readonly Chapter[],
  positions: ReadonlyArray<number | null>,
  markers: readonly number[],
  position: number,
): StoryNow | null {
  let index = -1;
  for (let i = 0; i < chapters.length; i++) {
    const p = positions[i];
    if (p !== null && p !== undefined && p <= position) index = i;
  }
  if (index < 0) return null;
  const start = positions[index]!;
  const next = firstAbove(markers, start);
  return { index, chapter: chapters[index]!, narrate: next === null || position < next };
}

/** The first value in a sorted list greater than `x`, or null. */
function firstAbove(sorted: readonly number[], x: number): number | null {
  const i = upperBound(sorted, x);
  return i < sorted.length ? sorted[i]! : null;
}

/**
 * Where the presenter keys go from `position`: the next stop after it
 * (dir 1) or the last one before it (dir -1), or null when there is none.
 * Stops are the chapters' positions when the scenario has chapters, else
 * the events of note.
 */
export function nextStop(stops: ReadonlyArray<number | null>, position: number, dir: 1 | -1): number | null {
  let best: number | null = null;
  for (const p of stops) {
    if (p === null) continue;
    if (dir > 0 ? p > position && (best === null || p < best) : p < position && (best === null || p > best)) best = p;
  }
  return best;
}

/**
 * The chapter stop Play halts at when it moves from `from` to `to`
 * (from < stop ≤ to), the first such, or null.
 */
export function stopCrossed(stops: ReadonlyArray<number | null>, from: number, to: number): number | null {
  let best: number | null = null;
  for (const p of stops) if (p !== null && p > from && p <= to && (best === null || p < best)) best = p;
  return best;
}
