/**
 * How a batched call takes its records: the one protocol between the batcher and the code that
 * sends a call.
 *
 * The batcher arms a call while its records are still open: more may join. The call runs down
 * through a sender (results.sendSealed, arrival-check.sendSealedOnce, leads.findLeadMatches),
 * the transport (callPrepared) and the limiter; only when the limiter lets it go does the request
 * builder seal the batch, which comes back up into the batcher and takes the records waiting at
 * that moment. Under load every call so leaves full.
 *
 * A sender keeps three rules, which SealedBatch holds for it:
 * - the batch is sealed once, when the request is built (inside callPrepared's builder);
 * - a call that fails before its request was built seals the batch after the failure, so the
 *   records that would have gone share it (else the batcher would arm the same call forever);
 * - it answers with the records the seal returned, one result each, in order.
 */
import type { RecordResult } from "./types";

/** The batcher's side: takes the records waiting now out of the batch and returns them. */
export type BatchSeal<T> = () => T[];

/** A sender: sends one call of the batch it is given, sealing it when the limiter runs the call. */
export type BatchDispatch<T> = (seal: BatchSeal<T>) => Promise<{ items: T[]; results: RecordResult[] }>;

/** The sender's side of one call: seals at most once, and says whether it has. */
export class SealedBatch<T> {
  private taken: T[] | undefined;

  constructor(private readonly seal: BatchSeal<T>) {}

  /** Whether the request was built: a failure after it may have reached Marketo. */
  get sealed(): boolean {
    return this.taken !== undefined;
  }

  /** The records sealed so far: none when the request was never built. */
  get sent(): T[] {
    return this.taken ?? [];
  }

  /** The records of this call: sealed now if not yet. */
  items(): T[] {
    this.taken ??= this.seal();
    return this.taken;
  }
}
