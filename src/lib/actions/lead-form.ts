/** marketo-lead's form mode: the record as a form fill, with the visitor data and cookie the message carries. */
import type { Outcome } from "./action-outcome";
import { formCookie, formFields, pickId, visitorData } from "./lead-action";
import { invalid, readProperty, type LeadMode, type Msg } from "./lead-mode";
import type { LeadContext } from "./lead-handler";
import { writeOnceOptions } from "../delivery/delivery-once";

export async function submitFormRecord(
  mode: LeadMode,
  record: unknown,
  msg: Msg,
  { client, config }: LeadContext,
): Promise<Outcome> {
  const { settings, readers, labels } = mode;
  const formId = pickId((msg as { formId?: unknown }).formId, settings.formId, "form id", "msg.formId");
  if (!formId.ok) return invalid(mode, formId.message);
  const withForm = (o: Outcome): Outcome => ({ ...o, marketo: { ...o.marketo, formId: formId.value } });
  const fields = formFields(record);
  if (!fields.ok) return withForm(invalid(mode, fields.message));
  const rawVisitor = await readProperty(mode, readers.visitor, msg, labels.visitor);
  if (!rawVisitor.ok) return withForm(rawVisitor.outcome);
  const visitor = visitorData(rawVisitor.value, labels.visitor);
  if (!visitor.ok) return withForm(invalid(mode, visitor.message));
  const rawCookie = await readProperty(mode, readers.cookie, msg, labels.cookie);
  if (!rawCookie.ok) return withForm(rawCookie.outcome);
  const cookie = formCookie(rawCookie.value, labels.cookie);
  if (!cookie.ok) return withForm(invalid(mode, cookie.message));
  const r = await client.submitForm(formId.value, fields.value, {
    ...(visitor.value ? { visitorData: visitor.value } : {}),
    ...(cookie.value ? { cookie: cookie.value } : {}),
    ...(settings.programId !== undefined ? { programId: settings.programId } : {}),
    ...writeOnceOptions(msg),
  });
  if (r.ok && r.id !== undefined) config.leadIds.set("email", fields.value.email, r.id);
  return withForm({ result: r });
}
