import type { OpContext } from "./context";
import { mapResults, numberOr, sendRecords, type RecordOp } from "./results";
import type { LeadRecord, RecordResult, SubmitFormOptions } from "./types";

/** Submit Form takes exactly one lead per call. */
export async function submitForm(
  ctx: OpContext,
  formId: number,
  leadFormFields: LeadRecord,
  opts: SubmitFormOptions = {},
): Promise<RecordResult> {
  const operation = "submitForm";
  const op: RecordOp<LeadRecord> = {
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
    }),
    map: (items, answer) => mapResults(items, answer, operation, (e) => numberOr(e?.id)),
  };
  const [result] = await sendRecords(ctx.transport, op, [leadFormFields]);
  return result;
}
