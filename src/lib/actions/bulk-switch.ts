/**
 * The bulk switch of marketo-program-status and marketo-custom-activity (custom objects): when
 * the node's own backlog passes its threshold, records go to Marketo's bulk import for their
 * target (one program and status, or one custom object) instead of the REST call, and each is
 * answered from its own row of the job's failures/warnings files, as marketo-lead's leads are.
 */
import type { CsvRow } from "../marketo/csv";
import type { BulkImportResult, BulkRowResult, RecordResult } from "../marketo";
import { BulkCollector } from "./lead-bulk";
import { DEFAULT_BULK_THRESHOLD } from "./lead-action";

export { BULK_LIVE_RECORDS, overThreshold } from "./lead-bulk";

/**
 * A node's bulk threshold setting: blank is the default (as for marketo-lead), 0 is never, and
 * anything else that is not a whole number is a deploy problem.
 */
export function parseBulkThreshold(raw: unknown): { value: number; problem?: string } {
  if (raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === ""))
    return { value: DEFAULT_BULK_THRESHOLD };
  const n = typeof raw === "number" ? raw : /^\s*\d+\s*$/.test(String(raw)) ? Number(raw) : NaN;
  if (Number.isSafeInteger(n) && n >= 0) return { value: n };
  return {
    value: 0,
    problem: `bulk threshold ${JSON.stringify(raw)} is not a whole number of records (0 = never)`,
  };
}

export interface KeyedBulkOptions {
  /** Operation named in the failures the collectors make up (bulkImportProgramMembers...). */
  operation: string;
  onChange?(): void;
  windowMs?: number;
}

/**
 * One bulk collector per import target: a program member import names one program and one
 * status, so records for another program or status cannot share its file. Each target's rows
 * wait for the same short window as leads and go in as few jobs as their columns allow.
 */
export class KeyedBulk {
  private readonly collectors = new Map<string, BulkCollector<string>>();
  /** The latest way to run a target's import (the client can change on a config redeploy). */
  private readonly runs = new Map<string, (rows: CsvRow[]) => Promise<BulkImportResult>>();
  private closed = false;

  constructor(private readonly o: KeyedBulkOptions) {}

  /** Rows handed over and not answered yet, over every target. */
  get pending(): number {
    let n = 0;
    for (const c of this.collectors.values()) n += c.pending;
    return n;
  }

  submit(key: string, row: CsvRow, run: (rows: CsvRow[]) => Promise<BulkImportResult>): Promise<BulkRowResult> {
    this.runs.set(key, run);
    let c = this.collectors.get(key);
    if (!c) {
      // Rows of one target go through its latest run, so the collector's "via" is the target.
      c = new BulkCollector<string>({
        operation: this.o.operation,
        run: (rows, target) => this.runs.get(target)!(rows),
        onChange: () => this.o.onChange?.(),
        ...(this.o.windowMs !== undefined ? { windowMs: this.o.windowMs } : {}),
      });
      if (this.closed) c.close();
      this.collectors.set(key, c);
    }
    return c.submit(row, key);
  }

  /** On close: every target's waiting rows start their job now. */
  close(): void {
    this.closed = true;
    for (const c of this.collectors.values()) c.close();
  }
}

/**
 * A bulk row as a record's answer: Bulk import names no record id, so msg.marketo says how the
 * record went in (status "imported", and bulk.outcome imported / warning / failed).
 */
export function bulkAnswer(row: BulkRowResult): { result: RecordResult; marketo: Record<string, unknown> } {
  const { outcome, batchId, ...result } = row;
  return {
    result,
    marketo: {
      ...(row.ok ? { status: "imported" } : {}),
      bulk: { outcome, ...(batchId !== undefined ? { batchId } : {}) },
    },
  };
}
