/**
 * Small helpers the domain modules share: reading loosely typed request bodies, Marketo's two
 * date formats, lead-DB paging tokens and per-record reasons.
 */
import { ApiError, type EmuRequest, type Reason } from "./types";

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The JSON body as an object; a body that is absent or not an object reads as `{}`. */
export function bodyOf(req: EmuRequest): JsonObject {
  return isObject(req.body) ? req.body : {};
}

/** A parameter from the query/form first, then from the JSON body (Marketo accepts both for some calls). */
export function param(req: EmuRequest, name: string): string | undefined {
  const fromQuery = req.query.get(name);
  if (fromQuery !== null) return fromQuery;
  const fromBody = bodyOf(req)[name];
  if (typeof fromBody === "string") return fromBody;
  if (typeof fromBody === "number" || typeof fromBody === "boolean") return String(fromBody);
  return undefined;
}

/** Marketo's 701 for a required parameter left out or empty. */
export function blank(name: string): ApiError {
  return new ApiError("701", `${name} cannot be blank`);
}

/** The body's `input` array; absent or empty → 701 as Marketo answers. */
export function inputArray(req: EmuRequest): unknown[] {
  const input = bodyOf(req).input;
  if (!Array.isArray(input) || input.length === 0) throw blank("input");
  return input;
}

/** A positive integer id from a number or a numeric string; undefined otherwise. */
export function toId(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isInteger(value) && value > 0) return value;
  if (typeof value === "string" && /^\d+$/.test(value.trim())) {
    const n = Number(value.trim());
    return n > 0 ? n : undefined;
  }
  return undefined;
}

/** Lead-database date-time, e.g. `2016-05-17T22:11:45Z`. */
export function leadDbDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Asset-API date-time in Marketo's odd shape, e.g. `2015-07-15T11:40:57Z+0000`. */
export function assetDate(ms: number): string {
  return `${leadDbDate(ms)}+0000`;
}

export function reason(code: string, message: string): Reason {
  return { code, message };
}

export function skipped(code: string, message: string): { status: "skipped"; reasons: Reason[] } {
  return { status: "skipped", reasons: [reason(code, message)] };
}

/**
 * Opaque lead-DB style paging token. Marketo's tokens are base32 blobs; clients must treat them
 * as opaque, so an encoded offset is enough (and stable across restarts of a test).
 */
export function encodePageToken(offset: number): string {
  return Buffer.from(`offset:${offset}`, "utf8").toString("base64");
}

export function decodePageToken(token: string | undefined | null): number {
  if (!token) return 0;
  const text = Buffer.from(token, "base64").toString("utf8");
  const match = /^offset:(\d+)$/.exec(text);
  if (!match) throw new ApiError("1003", `Invalid nextPageToken '${token}'`);
  return Number(match[1]);
}

/** `batchSize` for lead-DB reads: default and maximum 300. */
export function batchSizeOf(req: EmuRequest, max = 300): number {
  const raw = param(req, "batchSize");
  if (raw === undefined || raw === "") return max;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new ApiError("1003", `Invalid batchSize '${raw}', must be between 1 and ${max}`);
  }
  return n;
}

/** One page of a lead-DB read: `result`, `moreResult` and `nextPageToken` when more remain. */
export function leadDbPage<T>(items: T[], req: EmuRequest, max = 300): JsonObject {
  const size = batchSizeOf(req, max);
  const offset = decodePageToken(param(req, "nextPageToken"));
  const page = items.slice(offset, offset + size);
  const more = offset + size < items.length;
  const body: JsonObject = { success: true, result: page, moreResult: more };
  if (more) body.nextPageToken = encodePageToken(offset + size);
  return body;
}

/** Comma-separated list from a parameter (`filterValues`, `fields`, `names`); blanks dropped. */
export function commaList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

/** The warning-only answer the asset API gives for a lookup that found nothing. */
export const NO_ASSETS = "No assets found for the given search criteria.";

export function assetNotFound(): JsonObject {
  return { success: true, errors: [], warnings: [NO_ASSETS] };
}

/** Deep copy for snapshots, so callers of `/_emulator/state` cannot mutate live state. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
