/**
 * Delivers the results of asynchronous work in the order the messages arrived, while the work
 * itself runs concurrently.
 */
import { toError } from "./guards";

type Done = (err?: Error) => void;

export class ArrivalOrder {
  /** The last delivery; the next one is chained after it. Never rejects. */
  private tail: Promise<void> = Promise.resolve();

  /**
   * Calls `deliver` with the value of `pending` once every earlier delivery has run, or ends the
   * message with done(err) when `pending` rejects or `deliver` throws. `done` is called at most once.
   */
  after<T>(pending: Promise<T>, deliver: (value: T, done: Done) => void, done: Done): void {
    let finished = false;
    const fin = (err?: Error): void => {
      if (finished) return;
      finished = true;
      done(err);
    };
    const settled = pending.then(
      (value) => ({ value }),
      (err: unknown) => ({ err }),
    );
    this.tail = this.tail
      .then(() => settled)
      .then((r) => ("value" in r ? deliver(r.value, fin) : fin(toError(r.err))))
      .catch((err: unknown) => fin(toError(err)));
  }
}
