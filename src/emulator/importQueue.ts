/**
 * The bulk import queue shared by lead, custom object and program member imports: FIFO,
 * `importsRunning` jobs importing at once, `importsQueued` jobs in the queue including those
 * importing (1016 beyond). Jobs move Queued → Importing → Complete | Failed,
 * each step taking `importDelayMs` of the context's clock. State advances lazily whenever the
 * queue is read, and from an unref'd timer so real-time runs progress without polling.
 */
import Papa from "papaparse";
import { ApiError, type DomainContext } from "./types";
import { errorText } from "../lib/node-kit/guards";

export type ImportStatus = "Queued" | "Importing" | "Complete" | "Failed";
export type ImportFormat = "csv" | "tsv" | "ssv";
export type ImportKind = "leads" | "customObject" | "programMember";

/** Marketo's three flat-file formats: comma, tab and semicolon separated. */
export const DELIMITERS: Record<ImportFormat, string> = { csv: ",", tsv: "\t", ssv: ";" };

export const DEFAULT_IMPORT_DELAY_MS = 300;
export const DEFAULT_IMPORTS_RUNNING = 2;
export const DEFAULT_IMPORTS_QUEUED = 10;

export type RowOutcome = { status: "imported" } | { status: "warning" | "failed"; reason: string };

/** What a kind of import does with its file; called when the job reaches the end of Importing. */
export interface ImportProcessor {
  /** A reason to fail the whole job for this header row, or undefined when it is usable. */
  checkHeader(header: string[]): string | undefined;
  /** Imports one data row (`record` maps header names to the non-empty cells). */
  row(record: Record<string, string>): RowOutcome;
}

export interface ImportJob {
  batchId: number;
  kind: ImportKind;
  format: ImportFormat;
  status: ImportStatus;
  /** Kind-specific parameters shown in the snapshot (objectApiName, programId, lookupField...). */
  details: Record<string, unknown>;
  queuedAt: number;
  startedAt?: number;
  finishedAt?: number;
  processed: number;
  failed: number;
  warned: number;
  message?: string;
  header: string[];
  failureRows: string[][];
  warningRows: string[][];
  /** The uploaded file, kept only until the job is processed. */
  file?: string;
  processor?: ImportProcessor;
}

export function importMessage(job: ImportJob): string {
  const imported = `${job.processed} records imported (${job.processed} members)`;
  const warnings = `${job.warned} warning${job.warned === 1 ? "" : "s"}`;
  if (job.failed > 0) {
    return `Import completed with errors, ${imported}, ${job.failed} failed${job.warned > 0 ? `, ${warnings}` : ""}`;
  }
  // "Import succeeded, 1 records imported (1 members), 1 warning." as Marketo's docs show it.
  if (job.warned > 0) return `Import succeeded, ${imported}, ${warnings}.`;
  return `Import succeeded, ${imported}`;
}

export class ImportQueue {
  private jobs: ImportJob[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Latest time a job finished; a queued job cannot start before a slot was freed. */
  private lastFinishedAt = 0;

  constructor(private readonly ctx: DomainContext) {}

  private get delay(): number {
    return this.ctx.importDelayMs ?? DEFAULT_IMPORT_DELAY_MS;
  }

  /** Adds a job, or throws 1016 when the queue already holds `importsQueued` jobs. */
  enqueue(
    kind: ImportKind,
    format: ImportFormat,
    file: string,
    processor: ImportProcessor,
    details: Record<string, unknown>,
  ): ImportJob {
    this.advance();
    const limit = this.ctx.limits?.importsQueued ?? DEFAULT_IMPORTS_QUEUED;
    if (this.active().length >= limit) throw new ApiError("1016", "Too many imports");
    const job: ImportJob = {
      batchId: this.ctx.nextId("importBatch"),
      kind,
      format,
      status: "Queued",
      details,
      queuedAt: this.ctx.now(),
      processed: 0,
      failed: 0,
      warned: 0,
      header: [],
      failureRows: [],
      warningRows: [],
      file,
      processor,
    };
    this.jobs.push(job);
    this.schedule();
    return job;
  }

  /** Jobs still in the queue (queued or importing). */
  active(): ImportJob[] {
    return this.jobs.filter((j) => j.status === "Queued" || j.status === "Importing");
  }

  get(batchId: number, kind: ImportKind): ImportJob | undefined {
    this.advance();
    return this.jobs.find((j) => j.batchId === batchId && j.kind === kind);
  }

  /** Moves every job as far as the clock allows: finish due imports, then start queued ones FIFO. */
  advance(): void {
    const now = this.ctx.now();
    const delay = this.delay;
    const running = this.ctx.limits?.importsRunning ?? DEFAULT_IMPORTS_RUNNING;
    for (let changed = true; changed;) {
      changed = false;
      for (const job of this.jobs) {
        if (job.status === "Importing" && job.startedAt !== undefined && now >= job.startedAt + delay) {
          this.finish(job, job.startedAt + delay);
          changed = true;
        }
      }
      let importing = this.jobs.filter((j) => j.status === "Importing").length;
      for (const job of this.jobs) {
        if (importing >= running) break;
        if (job.status !== "Queued") continue;
        const readyAt = job.queuedAt + delay;
        // FIFO: a later job never overtakes one that is still waiting.
        if (now < readyAt) break;
        job.status = "Importing";
        job.startedAt = Math.max(readyAt, this.lastFinishedAt);
        importing++;
        changed = true;
      }
    }
  }

  private finish(job: ImportJob, at: number): void {
    const file = job.file ?? "";
    const processor = job.processor;
    job.file = undefined;
    job.processor = undefined;
    job.finishedAt = at;
    this.lastFinishedAt = Math.max(this.lastFinishedAt, at);
    try {
      const failure = processor ? this.process(job, file, processor) : "Import lost its file";
      if (failure !== undefined) {
        job.status = "Failed";
        job.message = failure;
        return;
      }
      job.status = "Complete";
      job.message = importMessage(job);
    } catch (err) {
      job.status = "Failed";
      job.message = `Import failed: ${errorText(err)}`;
      this.ctx.log?.(`bulk import ${job.batchId} failed: ${job.message}`);
    }
  }

  /** Parses the file and runs each row; returns a message when the whole job fails. */
  private process(job: ImportJob, file: string, processor: ImportProcessor): string | undefined {
    const text = file.replace(/^\ufeff/, "");
    if (text.trim() === "") return "Import failed: empty file";
    const parsed = Papa.parse<string[]>(text, { delimiter: DELIMITERS[job.format], skipEmptyLines: "greedy" });
    const quoteError = parsed.errors.find((e) => e.type === "Quotes");
    if (quoteError) {
      return `Import failed: unable to parse ${job.format.toUpperCase()} file at row ${(quoteError.row ?? 0) + 1}: ${quoteError.message}`;
    }
    const [header = [], ...rows] = parsed.data;
    const names = header.map((h) => h.trim());
    if (names.length === 0 || names.some((n) => n === "")) return "Import failed: missing or empty header row";
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate !== undefined) return `Import failed: duplicate column '${duplicate}' in header row`;
    const headerProblem = processor.checkHeader(names);
    if (headerProblem !== undefined) return `Import failed: ${headerProblem}`;
    job.header = names;

    for (const row of rows) {
      let outcome: RowOutcome;
      if (row.length !== names.length) {
        outcome = {
          status: "failed",
          reason: `Invalid number of columns: expected ${names.length}, found ${row.length}`,
        };
      } else {
        const record: Record<string, string> = {};
        names.forEach((name, i) => {
          // An empty cell leaves the field as it is rather than blanking it.
          if (row[i] !== "") record[name] = row[i];
        });
        outcome = processor.row(record);
      }
      if (outcome.status === "failed") {
        job.failed++;
        job.failureRows.push([...row, outcome.reason]);
      } else {
        job.processed++;
        if (outcome.status === "warning") {
          job.warned++;
          job.warningRows.push([...row, outcome.reason]);
        }
      }
    }
    return undefined;
  }

  /** The failures or warnings file in the job's own format, or undefined when there is none. */
  file(job: ImportJob, which: "failures" | "warnings"): string | undefined {
    const rows = which === "failures" ? job.failureRows : job.warningRows;
    if (job.status !== "Complete" || rows.length === 0) return undefined;
    const column = which === "failures" ? "Import Failure Reason" : "Import Warning Reason";
    return (
      Papa.unparse(
        { fields: [...job.header, column], data: rows },
        { delimiter: DELIMITERS[job.format], newline: "\n" },
      ) + "\n"
    );
  }

  /** Keeps a real-time timer while jobs are pending; unref'd so it never holds the process open. */
  private schedule(): void {
    if (this.timer !== undefined || this.active().length === 0) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.advance();
        this.schedule();
      },
      Math.max(this.delay, 50),
    );
    this.timer.unref();
  }

  reset(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.jobs = [];
    this.lastFinishedAt = 0;
  }

  snapshot(): Record<string, unknown>[] {
    this.advance();
    return this.jobs.map((j) => ({
      batchId: j.batchId,
      kind: j.kind,
      format: j.format,
      status: j.status,
      ...structuredClone(j.details),
      numOfRowsProcessed: j.processed,
      numOfRowsFailed: j.failed,
      numOfRowsWithWarning: j.warned,
      ...(j.message === undefined ? {} : { message: j.message }),
      queuedAt: new Date(j.queuedAt).toISOString(),
      ...(j.startedAt === undefined ? {} : { startedAt: new Date(j.startedAt).toISOString() }),
      ...(j.finishedAt === undefined ? {} : { finishedAt: new Date(j.finishedAt).toISOString() }),
    }));
  }
}
