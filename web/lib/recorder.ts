/**
 * How the page's worker records a run: in slices of wall-clock time, with
 * a snapshot at the end of each, so that snapshots are spaced by what
 * events cost on this machine, not by a count of events. A seek restores
 * the snapshot before its position and replays at most one slice, so a
 * slice of SLICE_MS bounds the worst seek at about SLICE_MS plus a restore;
 * a snapshot per slice costs a few per cent of recording.
 *
 * No DOM here: the benchmark (bench/timeline.bench.ts) records the same way.
 */
import type { RecordingState, Timeline } from '../../core/index.ts';

/** Wall-clock time (ms) of recording between two snapshots. */
export const SLICE_MS = 30;

/** Events recorded between two looks at the clock. */
const STRIDE = 256;

/**
 * Record for about `ms` milliseconds of wall-clock time (`now` reads the
 * clock), then take a snapshot. Returns the recording state.
 */
export function recordSlice(tl: Timeline, now: () => number, ms = SLICE_MS): RecordingState {
  const t0 = now();
  let state = tl.recording;
  while (state === 'running') {
    state = tl.record(STRIDE);
    if (now() - t0 >= ms) break;
  }
  tl.checkpoint();
  return state;
}

/** Record the whole run slice by slice (the benchmark's way of doing what the worker does between messages). */
export function recordAll(tl: Timeline, now: () => number, ms = SLICE_MS): RecordingState {
  let state = tl.recording;
  while (state === 'running') state = recordSlice(tl, now, ms);
  return state;
}
