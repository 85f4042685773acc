import { deliverOnce, formQuestion, type OnceContext } from "./arrival-check";
import type { OpContext } from "./context";
import { mapResults, numberOr, type RecordOp } from "./results";
import type { LeadRecord, RecordResult, SubmitFormOptions } from "./types";

/** Submit Form takes exactly one lead per call. */
export function submitFormOp(ctx: OpContext, formId: number, opts: SubmitFormOptions = {}): RecordOp<LeadRecord> {
  const operation = "submitForm";
  return {
    operation,
    maxBatchSize: 1,
    spec: ([fields]) => ({
      operation,
      method: "POST",
      path: "/rest/v1/leads/submitForm.json",
      json: {
        formId,
        ...(opts.programId !== undefined ? { programId: opts.programId } : {}),
        input: [
          {
            leadFormFields: fields,
            ...(opts.visitorData ? { visitorData: opts.visitorData } : {}),
            ...(opts.cookie ? { cookie: opts.cookie } : {}),
          },
        ],
      },
      records: 1,
      timeoutMs: ctx.timeoutMs(30),
      // Each post records a fill (and runs the form's campaigns): never retried blind.
      writeOnce: true,
    }),
    map: (items, answer) => mapResults(items, answer, operation, (e) => numberOr(e?.id)),
  };
}

/**
 * Submit Form, once as Marketo sees it: a post that may have arrived is followed by a look for
 * the lead's "Fill Out Form" activity before it is posted again. `unconfirmedSince`: an earlier
 * post (before a restart, or one that failed unconfirmed) may have arrived from then on.
 */
export async function submitForm(
  ctx: OnceContext,
  formId: number,
  leadFormFields: LeadRecord,
  opts: SubmitFormOptions & { unconfirmedSince?: number } = {},
): Promise<RecordResult> {
  const [result] = await deliverOnce(ctx, submitFormOp(ctx, formId, opts), formQuestion(formId), [leadFormFields], {
    ...(opts.unconfirmedSince !== undefined ? { since: opts.unconfirmedSince } : {}),
  });
  return result;
}
