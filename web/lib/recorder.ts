/**
 * How the page's worker records a run: in slices of wall-clock time, with
 * a snapshot at the end of each, so that snapshots are spaced by what
 * events cost on this machine, not by a count of events. A seek restores
 * the snapshot before its position and replays at most one slice, so a
 * slice of SLICE_MS bounds the worst seek at about SLICE_MS plus a restore
 * — of recording time: replaying costs more per event than recording did
 * (the viewer's code is cold at the first seeks: about 13 µs an event
 * against 3–5 µs, 8 devices, Node), so a small world, whose 30 ms slice
 * holds about 5000 events, saw seeks of up to 60 ms. Within a slice the
 * timeline also takes a snapshot once recording has kept SNAPSHOT_RATIO
 * times a snapshot's bytes (core/timeline.ts `snapshotRatio`): every few
 * hundred events in a small world (a snapshot of 8 devices is about
 * 200 KB and 0.6 ms), where seeks then replay little; in a large one
 * (256 devices, about 9 MB estimated) the slice comes first, as before.
 *
 * No DOM here: the benchmark (bench/timeline.bench.ts) records the same way.
 */
import type { RecordingState, Timeline } from '../../core/index.ts';

/** Wall-clock time (ms) of recording between two snapshots. */
export const SLICE_MS = 30;

/** A snapshot once recording has kept this many times a snapshot's estimated bytes since the last one. */
export const SNAPSHOT_RATIO = 1;

/** The options the page's worker (and its benchmark) record a run with. */
export const RECORDING_OPTIONS = { progressive: true, snapshotEvery: Infinity, snapshotRatio: SNAPSHOT_RATIO } as const;

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
