/**
 * marketo-lead's bulk switch: when the backlog of one Marketo instance is larger than the
 * node's threshold, new createOrUpdate records go to Marketo's bulk lead import instead of
 * Sync Leads. Rows are collected for a short window, imported in as few jobs as their
 * columns allow, and every row is answered with its own outcome.
 */
import type { CsvRow } from "../marketo/csv";
import type { BulkImportResult, BulkRowResult } from "../marketo";
import { unexpectedFailure } from "./action-outcome";

/** How long rows wait for company before a bulk job starts. */
export const BULK_WINDOW_MS = 2000;
/** A window this full starts its jobs at once (the client splits files under 10 MB itself). */
export const BULK_MAX_ROWS = 50_000;
/**
 * Records a marketo-lead node with the bulk switch on keeps live (instead of the action nodes'
 * 3,000): a bulk job holds its rows until Marketo has imported them, so the live bound is also
 * the largest job. 20,000 rows make a job worth its status polls, at about 50 MB while a large
 * backlog is imported; below the threshold the node never holds more than the threshold live.
 */
export const BULK_LIVE_RECORDS = 20_000;

/**
 * The backlog that decides the switch: the records this node has accepted for its operation and
 * not answered yet (live, waiting in its journal, or in a bulk job), not the whole Marketo
 * instance's: another node's backlog is no reason to import this node's records. Counting the
 * rows already in a bulk job keeps the switch on while the job runs, so a backlog is not split
 * back into small calls.
 */
export function overThreshold(threshold: number, backlog: number): boolean {
  return threshold > 0 && backlog > threshold;
}

/**
 * Row indexes grouped by their set of columns. One job's CSV has one header; a row without a
 * column would get an empty cell there, and an empty cell is a value an import may write over
 * what Marketo holds. Rows of one shape never risk that, so each shape gets its own job.
 */
export function groupByColumns(rows: CsvRow[]): number[][] {
  const groups = new Map<string, number[]>();
  rows.forEach((row, i) => {
    const key = JSON.stringify(Object.keys(row).sort());
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  return [...groups.values()];
}

/**
 * `Via` is what a row is imported through (the Marketo client of the record): each submit names
 * it, and rows of one window that came through different clients go in separate jobs.
 */
export interface BulkCollectorOptions<Via> {
  /** One import of rows of one shape through one client (client.bulkImportLeads with the node's options). */
  run(rows: CsvRow[], via: Via): Promise<BulkImportResult>;
  windowMs?: number;
  maxRows?: number;
  /** Called when the count of pending rows changes (status repaint). */
  onChange?(): void;
  /** Operation named in the failures this collector makes up (default bulkImportLeads). */
  operation?: string;
}

interface Waiting<Via> {
  row: CsvRow;
  via: Via;
  resolve(r: BulkRowResult): void;
}

const OPERATION = "bulkImportLeads";

export class BulkCollector<Via> {
  private waiting: Waiting<Via>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private unanswered = 0;
  private closed = false;

  constructor(private readonly o: BulkCollectorOptions<Via>) {}

  /** Rows handed to the collector and not answered yet (waiting or in a running job). */
  get pending(): number {
    return this.unanswered;
  }

  submit(row: CsvRow, via: Via): Promise<BulkRowResult> {
    return new Promise<BulkRowResult>((resolve) => {
      this.unanswered++;
      // An undefined field is no field: it must not become an empty column of the job.
      const defined: CsvRow = {};
      for (const [k, v] of Object.entries(row)) if (v !== undefined) defined[k] = v;
      this.waiting.push({ row: defined, via, resolve });
      if (this.closed || this.waiting.length >= (this.o.maxRows ?? BULK_MAX_ROWS)) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.o.windowMs ?? BULK_WINDOW_MS);
      this.o.onChange?.();
    });
  }

  /** Starts the jobs for every waiting row now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.waiting;
    this.waiting = [];
    if (batch.length === 0) return;
    const byVia = new Map<Via, Waiting<Via>[]>();
    for (const w of batch) {
      const list = byVia.get(w.via);
      if (list) list.push(w);
      else byVia.set(w.via, [w]);
    }
    for (const [via, rows] of byVia)
      for (const indexes of groupByColumns(rows.map((w) => w.row)))
        void this.importGroup(
          indexes.map((i) => rows[i]),
          via,
        );
  }

  /** On close: what waits starts now, and later rows do not wait for a window. */
  close(): void {
    this.closed = true;
    this.flush();
  }

  private async importGroup(group: Waiting<Via>[], via: Via): Promise<void> {
    let rows: BulkRowResult[];
    try {
      const result = await this.o.run(
        group.map((w) => w.row),
        via,
      );
      rows = result.rows;
    } catch (err) {
      const failed = unexpectedFailure(err, this.o.operation ?? OPERATION);
      rows = group.map(() => ({ ...failed, outcome: "failed" as const }));
    }
    group.forEach((w, i) => {
      this.unanswered--;
      w.resolve(
        rows[i] ?? {
          ...unexpectedFailure(
            new Error("the bulk import returned no row for this record"),
            this.o.operation ?? OPERATION,
          ),
          outcome: "failed",
        },
      );
    });
    this.o.onChange?.();
  }
}
