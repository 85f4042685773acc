/**
 * The two outputs of the flow nodes (tag-filter, field-mapper, status-mapper): output 1 passes a
 * message on, output 2 holds it back with `msg.filtered` saying why. A message passed on must not
 * carry an earlier node's `msg.filtered` (say a second filter on the first one's output 2, or a
 * retried message), so passing removes it.
 */

const hasOwn = Object.prototype.hasOwnProperty;

/** Sends `msg` on output 1, without any earlier `msg.filtered`. */
export function sendPassed<M extends object>(msg: M, send: (msgs: Array<NoInfer<M> | null>) => void): void {
  if (hasOwn.call(msg, "filtered")) delete (msg as { filtered?: unknown }).filtered;
  send([msg, null]);
}

/** Sets `msg.filtered` to why it is held back, and sends it on output 2. */
export function sendHeld<M extends object, F>(
  msg: M,
  filtered: F,
  send: (msgs: Array<NoInfer<M> | null>) => void,
): void {
  (msg as { filtered?: F }).filtered = filtered;
  send([null, msg]);
}
