/**
 * A node's input handled one message at a time, in arrival order, even when handling a message
 * is asynchronous.
 */
import type { NodeMessage, NodeMessageInFlow } from "node-red";
import { toError } from "./guards";

export type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type Done = (err?: Error) => void;
export type Handler = (msg: NodeMessageInFlow, send: Send, done: Done) => void;

/**
 * Handles messages one at a time, in arrival order, once `start` has been called. With the
 * default (event / msg) readers a message is handled synchronously and this is a plain loop; with
 * a JSONata reader evaluation is asynchronous and takes longer for some messages than for others,
 * and without the queue a later status could be checked against the memory first (Registered then
 * Attended would send Attended and skip Registered as backward). `fin` keeps done() to one call,
 * and a synchronous throw ends its message with done(err) instead of stalling the queue.
 */
export function orderedQueue(handle: Handler) {
  const waiting: Array<[NodeMessageInFlow, Send, Done]> = [];
  let ready = false;
  let closed = false;
  let busy = false;
  let pumping = false;
  function pump() {
    if (pumping) return; // a done() called synchronously inside the loop: the loop goes on
    pumping = true;
    try {
      while (ready && !busy && !closed && waiting.length > 0) {
        const [m, s, d] = waiting.shift()!;
        busy = true;
        let finished = false;
        const fin: Done = (err) => {
          if (finished) return;
          finished = true;
          busy = false;
          d(err);
          pump();
        };
        try {
          handle(m, s, fin);
        } catch (err) {
          fin(toError(err));
        }
      }
    } finally {
      pumping = false;
    }
  }
  return {
    get ready() {
      return ready;
    },
    push(msg: NodeMessageInFlow, send: Send, done: Done) {
      waiting.push([msg, send, done]);
      pump();
    },
    /** Lets the queue run (once the memory is loaded). */
    start() {
      ready = true;
      pump();
    },
    /** Stops the queue and ends every waiting message with `why`. */
    close(why: string) {
      closed = true;
      for (const [, , d] of waiting.splice(0)) d(new Error(why));
    },
  };
}
