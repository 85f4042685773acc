/**
 * What a failed message says about itself, as the retry-queue takes it in: the error of an
 * action node's output 2 or a Catch node's msg.error, and the message kept to resubmit.
 */
import { jsonSafeMessage } from "./storable";
import { CATEGORIES, integrationOf, isObject, retryableOf, str } from "./retry-entry";
import type { ErrorInfo, Failure, Integration } from "./retry-entry";

/**
 * A JSON-safe copy of a message to keep: no req/res (sockets), functions, cycles or the error
 * that brought it here, so it resubmits as it first went in.
 */
export function storableMessage(msg: Record<string, unknown>): Record<string, unknown> {
  const out = jsonSafeMessage(msg, (k) => k === "req" || k === "res" || k === "error");
  const marketo = out.marketo;
  if (marketo !== null && typeof marketo === "object" && !Array.isArray(marketo)) {
    delete (marketo as Record<string, unknown>).error;
    delete (marketo as Record<string, unknown>).retry;
  }
  return out;
}

const CATCH_TEXT = new RegExp(
  `^(?:MarketoError: )?([\\w-]+): (?:\\d+ of \\d+ records failed; first: )?(${CATEGORIES.join("|")}): ([\\s\\S]*)$`,
);
/** The error fields of an outcome, for an entry. */
export function errorFields(
  error: ErrorInfo | undefined,
): Pick<Failure, "category" | "code" | "message" | "retryable" | "action"> {
  const category = str(error?.category, "unknown");
  const action = str(error?.action, category === "quota" ? "wait-day" : "retry");
  return {
    category,
    code: str(error?.code, "UNKNOWN"),
    message: str(error?.message, "no error message"),
    retryable: retryableOf(category, error?.retryable, action),
    action,
  };
}

/**
 * What a failed message says about itself: `msg.marketo.error` from an action node's output 2,
 * else a Catch node's `msg.error` ("MarketoError: marketo-lead: rate-limit: ..."), else nothing
 * the queue knows (held, category "unknown", for a person to look at).
 */
export function failureOf(msg: Record<string, unknown>): Failure {
  const marketo = isObject(msg.marketo) ? msg.marketo : undefined;
  const caught = isObject(msg.error) ? msg.error : undefined;
  const stored = storableMessage(msg);
  const unknownNode: Integration = { id: "unknown", type: "unknown", name: "" };
  if (marketo && isObject(marketo.error)) {
    const e = marketo.error;
    return {
      msg: stored,
      integration: integrationOf(e.source) ?? integrationOf(caught?.source) ?? unknownNode,
      ...errorFields(e),
    };
  }
  if (caught) {
    const text = typeof caught.message === "string" ? caught.message : String(caught.message ?? "");
    const m = CATCH_TEXT.exec(text);
    const integration = integrationOf(caught.source) ?? unknownNode;
    if (m) {
      const category = m[2];
      const code =
        /\bMarketo (\d{3,4})\b/.exec(m[3])?.[1] ?? (typeof caught.code === "string" ? caught.code : "UNKNOWN");
      // Catch sees no retryable flag: the category decides, as the action nodes' table does.
      const retryable = category !== "validation" && category !== "auth";
      return {
        msg: stored,
        integration,
        category,
        code,
        message: m[3],
        retryable,
        action: category === "quota" ? "wait-day" : retryable ? "retry" : "permanent",
      };
    }
    return {
      msg: stored,
      integration,
      category: "unknown",
      code: "UNKNOWN",
      message: text || "an error without a message",
      retryable: false,
      action: "permanent",
    };
  }
  const filtered = isObject(msg.filtered) && typeof msg.filtered.reason === "string" ? `: ${msg.filtered.reason}` : "";
  return {
    msg: stored,
    integration: unknownNode,
    category: "unknown",
    code: "UNKNOWN",
    message: `the message carries no msg.marketo.error and no msg.error${filtered}`,
    retryable: false,
    action: "permanent",
  };
}
