/**
 * The field-mapper dialog's preview: the admin route's body, checked before it is compiled and
 * mapped exactly as the runtime would.
 */
import { isRecord } from "../node-kit/guards";

// ---------------------------------------------------------------------------------------------
// Preview (the admin route's input, checked)

export interface PreviewRequest {
  rows: unknown;
  targetFields: unknown;
  msg: Record<string, unknown>;
  id?: string;
}

/** Checks the preview route's body; returns the request or the reason for a 400. */
export function parsePreviewBody(body: unknown): { ok: true; request: PreviewRequest } | { ok: false; error: string } {
  if (!isRecord(body)) return { ok: false, error: "the body must be a JSON object {rows, targetFields, msg}" };
  if (!Array.isArray(body.rows)) return { ok: false, error: "rows must be an array of mapping rows" };
  if (body.targetFields !== undefined && body.targetFields !== null && !Array.isArray(body.targetFields)) {
    return { ok: false, error: "targetFields must be an array" };
  }
  let msg: unknown = body.msg;
  if (typeof msg === "string") {
    try {
      msg = JSON.parse(msg);
    } catch (err) {
      return { ok: false, error: `the sample message is not valid JSON: ${(err as Error).message}` };
    }
  }
  if (!isRecord(msg))
    return { ok: false, error: 'the sample message must be a JSON object, e.g. {"topic": ..., "payload": {...}}' };
  const id = typeof body.id === "string" && body.id !== "" ? body.id : undefined;
  return { ok: true, request: { rows: body.rows, targetFields: body.targetFields, msg, id } };
}
