import type { Output } from '../io.js';
import { truncate } from './text.js';

/** What a progress line shows: a job's last WORK_STATUS and how long it has run. */
export interface ProgressState {
  readonly numerator: number;
  readonly denominator: number;
  readonly elapsedMs: number;
  /** Shown before the bar, e.g. the function name. */
  readonly label?: string;
}

const FULL = '█';
const EMPTY = '░';
const MIN_BAR = 10;
const MAX_BAR = 40;

/**
 * Renders one progress line of at most `width` columns: `label [█████░░░░░]  50%  5/10  0:03`.
 * A denominator of 0 (the worker did not say how much there is) shows no bar or percentage,
 * and a numerator past the denominator shows a full bar at 100 %.
 */
export function renderProgress(state: ProgressState, width: number): string {
  const { numerator, denominator } = state;
  const label = state.label === undefined || state.label === '' ? '' : `${state.label} `;
  const counts = `${numerator}/${denominator}`;
  const elapsed = formatElapsed(state.elapsedMs);
  if (denominator <= 0) return truncate(`${label}${counts}  ${elapsed}`, width);
  const fraction = Math.min(1, Math.max(0, numerator / denominator));
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const fixed = `${label}[] ${percent}  ${counts}  ${elapsed}`.length;
  const barWidth = Math.min(MAX_BAR, Math.max(MIN_BAR, width - fixed));
  const filled = Math.floor(fraction * barWidth);
  const bar = FULL.repeat(filled) + EMPTY.repeat(barWidth - filled);
  return truncate(`${label}[${bar}] ${percent}  ${counts}  ${elapsed}`, width);
}

/** `m:ss`, or `h:mm:ss` from an hour on. */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0
    ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}`
    : `${minutes}:${seconds}`;
}

/** Options for `ProgressBar`. */
export interface ProgressBarOptions {
  readonly label?: string;
  /** The clock, for tests. @default Date.now */
  readonly now?: () => number;
  /** Redraw at most this often, in ms; the latest state is drawn at the next update. @default 50 */
  readonly throttle?: number;
}

/**
 * A progress line on a terminal stream (stderr), redrawn in place with `\r` and erase-to-end-of-
 * line. Call `clear()` before writing other output to the same terminal and `redraw()` after,
 * and `clear()` when done: the line leaves nothing behind.
 */
export class ProgressBar {
  readonly #stream: Output;
  readonly #label: string | undefined;
  readonly #now: () => number;
  readonly #throttle: number;
  readonly #start: number;
  #state: { numerator: number; denominator: number } | undefined;
  #drawn = false;
  #lastDraw = Number.NEGATIVE_INFINITY;

  constructor(stream: Output, options: ProgressBarOptions = {}) {
    this.#stream = stream;
    this.#label = options.label;
    this.#now = options.now ?? Date.now;
    this.#throttle = options.throttle ?? 50;
    this.#start = this.#now();
  }

  /** Records a WORK_STATUS and redraws, unless the last draw was under `throttle` ms ago. */
  update(numerator: number, denominator: number): void {
    this.#state = { numerator, denominator };
    const now = this.#now();
    // Always draw the final state, so that "10/10" is what stays on screen.
    if (now - this.#lastDraw < this.#throttle && numerator < denominator) return;
    this.#draw(now);
  }

  /** Draws the last state again (after `clear()` and other output). */
  redraw(): void {
    if (this.#state !== undefined) this.#draw(this.#now());
  }

  /** Erases the line, if one is drawn. */
  clear(): void {
    if (!this.#drawn) return;
    this.#stream.write('\r\x1b[K');
    this.#drawn = false;
  }

  #draw(now: number): void {
    const state = this.#state;
    if (state === undefined) return;
    // One column short of the width: writing the last column makes some terminals wrap.
    const columns = this.#stream.columns;
    const width = Math.max(20, (columns === undefined || columns <= 0 ? 80 : columns) - 1);
    const line = renderProgress(
      {
        ...state,
        elapsedMs: now - this.#start,
        ...(this.#label === undefined ? {} : { label: this.#label }),
      },
      width,
    );
    this.#stream.write(`\r${line}\x1b[K`);
    this.#drawn = true;
    this.#lastDraw = now;
  }
}
