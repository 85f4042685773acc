import Papa from "papaparse";
import { isUnsafeKey } from "./keys";

export type CsvRow = Record<string, unknown>;

/** A cell as Marketo's CSV import reads it: empty for null, ISO for dates, JSON for objects. */
export function cell(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Header = every key in first-seen order (REST field names, as bulk import wants them). */
export function columnsOf(rows: CsvRow[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) if (!isUnsafeKey(k)) seen.add(k);
  return [...seen];
}

export function toCsv(rows: CsvRow[], columns = columnsOf(rows)): string {
  return Papa.unparse({ fields: columns, data: rows.map((r) => columns.map((c) => cell(r[c]))) }, { newline: "\n" });
}

/** One CSV line (no newline) for the given values. */
export function csvLine(values: string[]): string {
  return Papa.unparse([values], { newline: "\n" });
}

export interface ParsedCsv {
  columns: string[];
  rows: Array<Record<string, string>>;
}

export function parseCsv(text: string): ParsedCsv {
  const res = Papa.parse<Record<string, string>>(text.replace(/^\uFEFF/, ""), {
    header: true,
    skipEmptyLines: true,
  });
  return { columns: res.meta.fields ?? [], rows: res.data };
}

/**
 * Splits rows into CSV files that stay under `maxBytes` each (Marketo refuses 10 MB and
 * more with 413). Returns the row indexes of each file so outcomes map back to the input.
 */
export function splitCsv(
  rows: CsvRow[],
  maxBytes: number,
  columns = columnsOf(rows),
): Array<{ csv: string; indexes: number[] }> {
  const header = csvLine(columns);
  const headerBytes = Buffer.byteLength(header) + 1;
  const files: Array<{ csv: string; indexes: number[] }> = [];
  let lines: string[] = [];
  let indexes: number[] = [];
  let bytes = headerBytes;
  const close = (): void => {
    if (indexes.length) files.push({ csv: [header, ...lines].join("\n") + "\n", indexes });
    lines = [];
    indexes = [];
    bytes = headerBytes;
  };
  rows.forEach((row, i) => {
    const line = csvLine(columns.map((c) => cell(row[c])));
    const size = Buffer.byteLength(line) + 1;
    if (headerBytes + size > maxBytes) throw new RangeError(`row ${i} alone is larger than ${maxBytes} bytes`);
    if (bytes + size > maxBytes) close();
    lines.push(line);
    indexes.push(i);
    bytes += size;
  });
  close();
  return files;
}
