import { MARKETO_MAX_RECORDS, type OpContext } from "./context";
import { MarketoError, classify, marketoError } from "./errors";
import type { Answer, CallSpec, Transport } from "./transport";
import type { MarketoReason, RecordResult } from "./types";

/** A Marketo write that takes a list of records and answers one result per record. */
export interface RecordOp<T> {
  operation: string;
  maxBatchSize: number;
  spec(items: T[]): CallSpec;
  map(items: T[], answer: Answer): RecordResult[];
}

type Entry = Record<string, unknown>;

function reasonsOf(entry: Entry): MarketoReason[] | undefined {
  // Custom activities report per-record failures in `errors`, everything else in `reasons`.
  const raw = Array.isArray(entry.reasons) ? entry.reasons : Array.isArray(entry.errors) ? entry.errors : undefined;
  if (!raw) return undefined;
  return raw
    .filter((r): r is Entry => typeof r === "object" && r !== null)
    .map((r) => ({ code: String(r.code ?? ""), message: String(r.message ?? "") }));
}

const OK_STATUSES: Record<string, RecordResult["status"]> = {
  created: "created",
  updated: "updated",
  added: "added",
  deleted: "deleted",
  removed: "deleted",
};

/** One `result[i]` entry to a RecordResult. */
export function toRecordResult(
  entry: Entry | undefined,
  operation: string,
  requestId: string | undefined,
  id: number | undefined,
): RecordResult {
  const base = (): Partial<RecordResult> => ({
    ...(id !== undefined ? { id } : {}),
    ...(typeof entry?.marketoGUID === "string" ? { marketoGUID: entry.marketoGUID } : {}),
    ...(requestId ? { requestId } : {}),
  });
  if (!entry) {
    return {
      ...base(),
      ok: false,
      status: "failed",
      error: new MarketoError({
        code: "MISSING_RESULT",
        message: "Marketo's answer has no result for this record",
        category: "marketo",
        action: "permanent",
        retryable: false,
        operation,
        ...(requestId ? { requestId } : {}),
      }),
    };
  }
  const status = String(entry.status ?? "");
  const reasons = reasonsOf(entry);
  const okStatus = OK_STATUSES[status];
  if (okStatus) return { ...base(), ok: true, status: okStatus, ...(reasons?.length ? { reasons } : {}) };
  if (status === "skipped") {
    const first = reasons?.[0];
    if (first && classify(first.code, first.message).benign) {
      // 1037: already in or past this program status — the goal already holds.
      return { ...base(), ok: true, status: "unchanged", reasons };
    }
    const error = first
      ? marketoError(first.code, `Marketo ${first.code}: ${first.message}`, { operation, requestId })
      : new MarketoError({
          code: "SKIPPED",
          message: "Marketo skipped this record without a reason",
          category: "marketo",
          action: "permanent",
          retryable: false,
          operation,
          ...(requestId ? { requestId } : {}),
        });
    return { ...base(), ok: false, status: "skipped", ...(reasons ? { reasons } : {}), error };
  }
  return {
    ...base(),
    ok: false,
    status: "failed",
    error: new MarketoError({
      code: "UNEXPECTED_STATUS",
      message: `Marketo answered record status "${status}"`,
      category: "marketo",
      action: "permanent",
      retryable: false,
      operation,
      ...(requestId ? { requestId } : {}),
    }),
  };
}

/**
 * Lines `result[]` up with the input: by `seq` when Marketo sends it, else by position.
 * `idOf` picks the lead id for a record (from the entry, or from the input when the entry's
 * id means something else, as with custom activities).
 */
export function mapResults<T>(
  items: T[],
  answer: Answer,
  operation: string,
  idOf: (entry: Entry | undefined, item: T) => number | undefined,
): RecordResult[] {
  const raw = Array.isArray(answer.envelope.result) ? (answer.envelope.result as Entry[]) : [];
  const bySeq = raw.length > 0 && raw.every((e) => typeof e?.seq === "number");
  // Indexed once: a find per record would scan the answer 300 times for a full call.
  let seqIndex: Map<number, Entry> | undefined;
  if (bySeq) {
    seqIndex = new Map();
    for (const e of raw) if (!seqIndex.has(e.seq as number)) seqIndex.set(e.seq as number, e);
  }
  const entryFor = (i: number): Entry | undefined => (seqIndex ? seqIndex.get(i) : raw[i]);
  return items.map((item, i) => {
    const entry = entryFor(i);
    return toRecordResult(entry, operation, answer.requestId, idOf(entry, item));
  });
}

/**
 * The common shape of Marketo's record writes: one POST of up to 300 records (or fewer when
 * the client is set lower) whose answer lines up one entry per record.
 */
export function postRecordsOp<T>(
  ctx: OpContext,
  operation: string,
  call: {
    path: string;
    body: (items: T[]) => Record<string, unknown>;
    /** Marketo's own timeout for this endpoint; the client waits a little longer. */
    serverTimeoutS: number;
    idOf: (entry: Entry | undefined, item: T) => number | undefined;
  },
): RecordOp<T> {
  return {
    operation,
    maxBatchSize: Math.min(ctx.maxBatchSize, MARKETO_MAX_RECORDS),
    spec: (items) => ({
      operation,
      method: "POST",
      path: call.path,
      json: call.body(items),
      records: items.length,
      timeoutMs: ctx.timeoutMs(call.serverTimeoutS),
    }),
    map: (items, answer) => mapResults(items, answer, operation, call.idOf),
  };
}

export function numberOr(v: unknown): number | undefined {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) ? n : undefined;
}

export function failAll(count: number, error: MarketoError): RecordResult[] {
  return Array.from({ length: count }, () => ({
    ok: false,
    status: "failed" as const,
    error,
    ...(error.requestId ? { requestId: error.requestId } : {}),
  }));
}

/** Sends one chunk; HTTP 413 splits it in two (each half its own call), other failures fail every record. */
export async function sendChunk<T>(transport: Transport, op: RecordOp<T>, items: T[]): Promise<RecordResult[]> {
  try {
    return op.map(items, await transport.call(op.spec(items)));
  } catch (err) {
    return handleFailure(transport, op, items, err);
  }
}

async function handleFailure<T>(
  transport: Transport,
  op: RecordOp<T>,
  items: T[],
  err: unknown,
): Promise<RecordResult[]> {
  const error = asError(err, op.operation);
  if (error.code === "413" && items.length > 1) {
    const half = Math.ceil(items.length / 2);
    const [a, b] = await Promise.all([
      sendChunk(transport, op, items.slice(0, half)),
      sendChunk(transport, op, items.slice(half)),
    ]);
    return [...a, ...b];
  }
  if (error.code === "413" && items.length === 1) {
    // Split down to one record: the record itself is the problem, and only a person can fix it.
    return failAll(
      1,
      new MarketoError({
        ...error.toJSON(),
        message: `${error.message}: this record alone is over the limit; shorten its longest field`,
      }),
    );
  }
  return failAll(items.length, error);
}

/** Direct (unbatched) use: chunks to the operation's maximum and keeps input order. */
export async function sendRecords<T>(transport: Transport, op: RecordOp<T>, items: T[]): Promise<RecordResult[]> {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += op.maxBatchSize) chunks.push(items.slice(i, i + op.maxBatchSize));
  const parts = await Promise.all(chunks.map((c) => sendChunk(transport, op, c)));
  return parts.flat();
}

/** Batched use: the records are sealed by `seal()` only when the limiter runs the call. */
export async function sendSealed<T>(
  transport: Transport,
  op: RecordOp<T>,
  seal: () => T[],
  background = false,
): Promise<{ items: T[]; results: RecordResult[] }> {
  let items: T[] = [];
  let sealed = false;
  try {
    const answer = await transport.callPrepared(() => {
      sealed = true;
      items = seal();
      return items.length ? op.spec(items) : undefined;
    }, background);
    if (!answer) return { items, results: [] };
    return { items, results: op.map(items, answer) };
  } catch (err) {
    // Failed before the batch was sealed (no token, client closed): the records that would
    // have gone share the failure, or the batcher would re-arm the same call forever.
    if (!sealed) items = seal();
    return { items, results: await handleFailure(transport, op, items, err) };
  }
}

export function asError(err: unknown, operation: string): MarketoError {
  if (err instanceof MarketoError) return err.operation ? err : err.withOperation(operation);
  return new MarketoError({
    code: "INTERNAL",
    message: `Unexpected failure in ${operation}: ${err instanceof Error ? err.message : String(err)}`,
    category: "marketo",
    action: "permanent",
    retryable: false,
    operation,
  });
}
