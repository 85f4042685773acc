import type { OpContext } from "./context";
import { cell, columnsOf, parseCsv, splitCsv, type CsvRow } from "./csv";
import { MarketoError } from "./errors";
import { asError, numberOr } from "./results";
import type { Answer } from "./transport";
import type { BulkImportOptions, BulkImportResult, BulkJobSummary, BulkRowResult } from "./types";
import { errorText } from "../node-kit/guards";

/** 1016 (import queue full) and 1019 (list being imported) clear as other jobs finish. */
const QUEUE_CODES = new Set(["1016", "1019"]);
const MAX_QUEUE_WAIT_MS = 60 * 60_000;
const MAX_JOB_WAIT_MS = 24 * 60 * 60_000;
/** Marketo imports two jobs at a time; more in parallel would only sit in its queue. */
const PARALLEL_JOBS = 2;

export type BulkTarget =
  | { kind: "leads"; options?: BulkImportOptions }
  | { kind: "customObjects"; apiName: string }
  | { kind: "programMembers"; programId: number; statusName: string };

interface Paths {
  operation: string;
  create: string;
  form: Record<string, string>;
  status(batchId: number): string;
  file(batchId: number, which: "failures" | "warnings"): string;
}

function pathsFor(t: BulkTarget): Paths {
  const enc = encodeURIComponent;
  switch (t.kind) {
    case "leads": {
      const form: Record<string, string> = {};
      if (t.options?.lookupField) form.lookupField = t.options.lookupField;
      if (t.options?.listId !== undefined) form.listId = String(t.options.listId);
      if (t.options?.partitionName) form.partitionName = t.options.partitionName;
      return {
        operation: "bulkImportLeads",
        create: "/bulk/v1/leads.json",
        form,
        status: (id) => `/bulk/v1/leads/batch/${id}.json`,
        file: (id, which) => `/bulk/v1/leads/batch/${id}/${which}.json`,
      };
    }
    case "customObjects":
      return {
        operation: "bulkImportCustomObjects",
        create: `/bulk/v1/customobjects/${enc(t.apiName)}/import.json`,
        form: {},
        status: (id) => `/bulk/v1/customobjects/${enc(t.apiName)}/import/${id}/status.json`,
        file: (id, which) => `/bulk/v1/customobjects/${enc(t.apiName)}/import/${id}/${which}.json`,
      };
    case "programMembers":
      return {
        operation: "bulkImportProgramMembers",
        create: `/bulk/v1/program/${enc(t.programId)}/members/import.json`,
        form: { programMemberStatus: t.statusName },
        status: (id) => `/bulk/v1/program/members/import/${id}/status.json`,
        file: (id, which) => `/bulk/v1/program/members/import/${id}/${which}.json`,
      };
  }
}

/**
 * Bulk import: CSV files under the size limit, one job each, polled to the end; every input
 * row comes back as imported, warning (+ reason) or failed (+ reason).
 */
export async function bulkImport(ctx: OpContext, target: BulkTarget, rows: CsvRow[]): Promise<BulkImportResult> {
  const paths = pathsFor(target);
  const columns = columnsOf(rows);
  let files: Array<{ csv: string; indexes: number[] }>;
  try {
    files = splitCsv(rows, ctx.bulkMaxFileBytes, columns);
  } catch (err) {
    const error = new MarketoError({
      code: "413",
      message: `Bulk import refused before sending: ${errorText(err)}`,
      category: "validation",
      action: "permanent",
      retryable: false,
      operation: paths.operation,
    });
    return { jobs: [], rows: rows.map(() => failedRow(error)) };
  }
  const out: BulkRowResult[] = new Array<BulkRowResult>(rows.length);
  const jobs: BulkJobSummary[] = [];
  for (let i = 0; i < files.length; i += PARALLEL_JOBS) {
    const group = files.slice(i, i + PARALLEL_JOBS);
    const done = await Promise.all(group.map((f) => runJob(ctx, paths, f, rows, columns, out)));
    jobs.push(...done.filter((j): j is BulkJobSummary => j !== undefined));
  }
  return { jobs, rows: out };
}

async function runJob(
  ctx: OpContext,
  paths: Paths,
  file: { csv: string; indexes: number[] },
  rows: CsvRow[],
  columns: string[],
  out: BulkRowResult[],
): Promise<BulkJobSummary | undefined> {
  const failEvery = (error: MarketoError): void => {
    for (const i of file.indexes) out[i] = failedRow(error);
  };
  let batchId: number;
  try {
    batchId = await createJob(ctx, paths, file.csv, file.indexes.length);
  } catch (err) {
    failEvery(asError(err, paths.operation));
    return undefined;
  }
  let status: Record<string, unknown>;
  try {
    status = await pollJob(ctx, paths, batchId);
  } catch (err) {
    failEvery(asError(err, paths.operation));
    return { batchId, status: "Unknown", rows: file.indexes.length, numOfRowsFailed: 0, numOfRowsWithWarning: 0 };
  }
  const summary: BulkJobSummary = {
    batchId,
    status: String(status.status),
    rows: file.indexes.length,
    numOfRowsProcessed: numberOr(status.numOfLeadsProcessed ?? status.numOfObjectsProcessed),
    numOfRowsFailed: numberOr(status.numOfRowsFailed) ?? 0,
    numOfRowsWithWarning: numberOr(status.numOfRowsWithWarning) ?? 0,
    ...(typeof status.message === "string" ? { message: status.message } : {}),
  };
  if (summary.status !== "Complete") {
    failEvery(
      new MarketoError({
        code: "BULK_JOB_FAILED",
        message: `Bulk import job ${batchId} ended "${summary.status}": ${summary.message ?? "no message"}`,
        category: "marketo",
        action: "permanent",
        retryable: false,
        operation: paths.operation,
      }),
    );
    return summary;
  }
  for (const i of file.indexes) out[i] = { ok: true, status: "updated", outcome: "imported", batchId };
  const matcher = new RowMatcher(file.indexes, rows, columns);
  let failures: string | undefined;
  if (summary.numOfRowsFailed > 0) {
    try {
      failures = await download(ctx, paths, batchId, "failures");
    } catch (err) {
      // Marketo says some rows failed but we cannot tell which: no row of this job may be
      // reported as imported, as a log line alone would hide the failures. Retryable: the import
      // is an upsert, so sending the rows again is the way to learn their outcome.
      const why = asError(err, paths.operation).message;
      const error = new MarketoError({
        code: "BULK_OUTCOME_UNKNOWN",
        message: `Bulk import job ${batchId} reported ${summary.numOfRowsFailed} failed row(s) but its failures file could not be read (${why}); this row may not have been imported`,
        category: "marketo",
        action: "retry",
        retryable: true,
        operation: paths.operation,
      });
      for (const i of file.indexes) out[i] = { ...failedRow(error), batchId };
      return summary;
    }
  }
  try {
    if (failures !== undefined) {
      for (const m of matcher.match(failures)) {
        const error = new MarketoError({
          code: "BULK_ROW_FAILED",
          message: `Bulk import rejected the row: ${m.reason}`,
          category: "validation",
          action: "permanent",
          retryable: false,
          operation: paths.operation,
        });
        out[m.index] = { ...failedRow(error), batchId, reasons: [{ code: "BULK_ROW_FAILED", message: m.reason }] };
      }
    }
    if (summary.numOfRowsWithWarning > 0) {
      for (const m of matcher.match(await download(ctx, paths, batchId, "warnings"))) {
        if (out[m.index].outcome === "failed") continue;
        out[m.index] = {
          ok: true,
          status: "updated",
          outcome: "warning",
          batchId,
          reasons: [{ code: "BULK_ROW_WARNING", message: m.reason }],
        };
      }
    }
  } catch (err) {
    ctx.logger.warn(
      `marketo: could not read the outcome files of bulk job ${batchId}: ${asError(err, paths.operation).message}`,
    );
  }
  if (matcher.unmatched > 0) {
    ctx.logger.warn(`marketo: ${matcher.unmatched} row(s) of bulk job ${batchId}'s outcome files match no input row`);
  }
  return summary;
}

async function createJob(ctx: OpContext, paths: Paths, csv: string, records: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    let answer: Answer;
    try {
      answer = await ctx.transport.call({
        operation: paths.operation,
        method: "POST",
        path: paths.create,
        multipart: () => {
          const fd = new FormData();
          fd.append("format", "csv");
          for (const [k, v] of Object.entries(paths.form)) fd.append(k, v);
          fd.append("file", new Blob([csv], { type: "text/csv" }), "import.csv");
          return fd;
        },
        records,
        timeoutMs: ctx.timeoutMs(300),
      });
    } catch (err) {
      if (err instanceof MarketoError && QUEUE_CODES.has(err.code) && Date.now() - started < MAX_QUEUE_WAIT_MS) {
        ctx.logger.info(`marketo: bulk import queue busy (${err.code}); waiting`);
        await ctx.timers.sleep(Math.max(ctx.bulkPollIntervalMs, 1000));
        continue;
      }
      throw err;
    }
    const batchId = numberOr(answer.envelope.result?.[0]?.batchId);
    if (batchId === undefined) {
      throw new MarketoError({
        code: "INVALID_RESPONSE",
        message: "Marketo accepted the bulk import without a batchId",
        category: "marketo",
        action: "permanent",
        retryable: false,
        operation: paths.operation,
      });
    }
    return batchId;
  }
}

async function pollJob(ctx: OpContext, paths: Paths, batchId: number): Promise<Record<string, unknown>> {
  const started = Date.now();
  for (;;) {
    await ctx.timers.sleep(ctx.bulkPollIntervalMs);
    const answer = await ctx.transport.call({
      operation: `${paths.operation}Status`,
      method: "GET",
      path: paths.status(batchId),
      timeoutMs: ctx.timeoutMs(30),
    });
    const status = answer.envelope.result?.[0] ?? {};
    if (status.status === "Complete" || status.status === "Failed") return status;
    if (Date.now() - started > MAX_JOB_WAIT_MS) return { ...status, status: "TimedOut" };
  }
}

async function download(
  ctx: OpContext,
  paths: Paths,
  batchId: number,
  which: "failures" | "warnings",
): Promise<string> {
  const answer = await ctx.transport.call({
    operation: `${paths.operation}Files`,
    method: "GET",
    path: paths.file(batchId, which),
    expect: "text",
    passStatuses: [404], // no such file: nothing to map
    timeoutMs: ctx.timeoutMs(60),
  });
  return answer.httpStatus === 404 ? "" : (answer.text ?? "");
}

function failedRow(error: MarketoError): BulkRowResult {
  return { ok: false, status: "failed", outcome: "failed", error };
}

/**
 * Finds the input row behind each row of a failures/warnings file by content: the file
 * repeats the row as sent plus a reason column, in no promised order. Identical input rows
 * are handed out in input order. A second pass ignores case and surrounding spaces, in case
 * Marketo normalised a value (e.g. an email) when echoing it.
 */
export class RowMatcher {
  unmatched = 0;
  private readonly used = new Set<number>();
  private readonly cells: Array<Record<string, string>>;

  constructor(
    private readonly indexes: number[],
    rows: CsvRow[],
    columns: string[],
  ) {
    this.cells = indexes.map((i) => Object.fromEntries(columns.map((c) => [c, cell(rows[i][c])])));
  }

  match(csvText: string): Array<{ index: number; reason: string }> {
    if (!csvText.trim()) return [];
    const parsed = parseCsv(csvText);
    const reasonCol =
      [...parsed.columns].reverse().find((c) => /reason/i.test(c)) ?? parsed.columns[parsed.columns.length - 1];
    const keyCols = parsed.columns.filter((c) => c !== reasonCol);
    const strict = (v: string): string => v;
    const loose = (v: string): string => v.trim().toLowerCase();
    const found: Array<{ index: number; reason: string }> = [];
    let pending = parsed.rows.map((r) => ({ r, reason: String(r[reasonCol] ?? "") }));
    for (const norm of [strict, loose]) {
      const byKey = new Map<string, number[]>();
      this.cells.forEach((c, pos) => {
        if (this.used.has(pos)) return;
        const k = JSON.stringify(keyCols.map((col) => norm(c[col] ?? "")));
        const list = byKey.get(k);
        if (list) list.push(pos);
        else byKey.set(k, [pos]);
      });
      const left: typeof pending = [];
      for (const p of pending) {
        const k = JSON.stringify(keyCols.map((col) => norm(String(p.r[col] ?? ""))));
        const pos = byKey.get(k)?.shift();
        if (pos === undefined) {
          left.push(p);
          continue;
        }
        this.used.add(pos);
        found.push({ index: this.indexes[pos], reason: p.reason });
      }
      pending = left;
    }
    this.unmatched += pending.length;
    return found;
  }
}
