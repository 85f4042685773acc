/**
 * The canvas status of a busy node, throttled. A node counting thousands of messages a second
 * would otherwise send thousands of status events to every open editor; here it paints at most
 * once per STATUS_INTERVAL_MS, and the last change is always painted (never lost to the throttle).
 */

/** The shortest time between two paints of one node's status. */
export const STATUS_INTERVAL_MS = 250;

export interface ThrottledStatus {
  /** Asks for a paint: now if the last one is old enough, else once the interval has passed. */
  refresh(): void;
  /** Paints now (at deploy, or for a change that must show at once) and restarts the interval. */
  paintNow(): void;
  /** Whether a paint is waiting for the interval to pass. */
  readonly pending: boolean;
  /**
   * Stops painting. A message still in flight after close must not paint: the node replacing
   * this one on a redeploy has the same id and would show stale counts.
   */
  close(): void;
}

/** Wraps `paint` (which calls node.status) so that it runs at most once per `intervalMs`. */
export function throttledStatus(paint: () => void, intervalMs: number = STATUS_INTERVAL_MS): ThrottledStatus {
  let timer: NodeJS.Timeout | undefined;
  let lastPaint = -Infinity;
  let closed = false;
  const paintNow = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (closed) return;
    lastPaint = Date.now();
    paint();
  };
  return {
    refresh() {
      if (timer || closed) return;
      const wait = intervalMs - (Date.now() - lastPaint);
      if (wait <= 0) paintNow();
      else timer = setTimeout(paintNow, wait);
    },
    paintNow,
    get pending() {
      return timer !== undefined;
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
