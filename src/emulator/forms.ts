/**
 * Submit Form: one form fill per call, upserted by email through the leads
 * module, with the "Fill Out Form" activity and the visitor data Marketo keeps.
 */
import type { ActivityLog } from "./activities";
import { assetDate, assetNotFound, blank, bodyOf, clone, isObject, leadDbDate, toId } from "./common";
import { LEAD_FIELDS } from "./leadFields";
import type { Form } from "./model";
import { ACTIVITY_FILL_OUT_FORM, seedForms } from "./seed";
import { ApiError, type DomainContext, type DomainModule, type EmuRequest, type Reason, type RouteDef } from "./types";
import { coerce } from "./values";

export interface FormSubmission {
  formId: number;
  programId?: number;
  leadId?: number;
  status: string;
  reasons?: Reason[];
  fields: Record<string, unknown>;
  visitorData?: Record<string, unknown>;
  cookie?: string;
  submittedAt: string;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function createFormsModule(
  ctx: DomainContext,
  activities?: ActivityLog,
  programExists?: (programId: number) => boolean,
): DomainModule {
  let forms: Form[] = [];
  let submissions: FormSubmission[] = [];

  function reset(): void {
    forms = ctx.seed.enabled ? seedForms() : [];
    submissions = [];
  }
  reset();

  /** Validates the form fill; returns the skip reason, or undefined when it may be upserted. */
  function check(form: Form, fields: Record<string, unknown>): Reason | undefined {
    const email = fields.email;
    if (email === undefined || email === null || email === "") {
      return { code: "1002", message: "Missing value for required parameter 'email'" };
    }
    for (const name of Object.keys(fields)) {
      if (!form.fields.includes(name)) return { code: "1006", message: `Field '${name}' not found` };
    }
    const valid = coerce({ name: "email", dataType: "email" }, email);
    if (!valid.ok) return { code: "1003", message: valid.message };
    return undefined;
  }

  const assetRead = ["Read-Only Assets" as const, "Read-Write Assets" as const];
  const assetResult = (items: Record<string, unknown>[]) => ({
    body: items.length === 0 ? assetNotFound() : { success: true, errors: [], warnings: [], result: items },
  });
  /** The asset API's `maxReturn` (default 20, at most 200) and `offset` window. */
  const assetWindow = <T>(items: T[], req: EmuRequest): T[] => {
    const maxRaw = req.query.get("maxReturn");
    const offRaw = req.query.get("offset");
    const max = maxRaw === null || maxRaw === "" ? 20 : Number(maxRaw);
    const offset = offRaw === null || offRaw === "" ? 0 : Number(offRaw);
    if (!Number.isInteger(max) || max < 1 || max > 200)
      throw new ApiError("1003", `Invalid maxReturn '${maxRaw}', must be between 1 and 200`);
    if (!Number.isInteger(offset) || offset < 0) throw new ApiError("1003", `Invalid offset '${offRaw}'`);
    return items.slice(offset, offset + max);
  };
  const created = assetDate(Date.parse("2026-01-05T09:00:00Z"));
  const formOut = (f: Form) => ({
    id: f.id,
    name: f.name,
    description: "",
    createdAt: created,
    updatedAt: created,
    url: `https://app-emulator.marketo.com/#FO${f.id}A1`,
    status: "approved",
    folder:
      f.programId === undefined
        ? { type: "Folder", value: 1, folderName: "Forms" }
        : { type: "Program", value: f.programId, folderName: "Program" },
    workspace: f.workspace,
  });
  const fieldOut = (name: string) => {
    const def = LEAD_FIELDS.find((d) => d.name === name);
    return {
      id: name,
      label: `${def?.displayName ?? name}:`,
      dataType: def?.dataType ?? "string",
      required: name === "email",
      formPrefill: true,
      visibilityRules: { ruleType: "alwaysShow" },
    };
  };

  const routes: RouteDef[] = [
    {
      method: "GET",
      pattern: "/rest/asset/v1/forms.json",
      permissions: assetRead,
      family: "asset",
      handler: (req) => {
        const status = req.query.get("status");
        const listed = status && status !== "approved" ? [] : forms;
        return assetResult(assetWindow(listed, req).map(formOut));
      },
    },
    {
      method: "GET",
      pattern: "/rest/asset/v1/form/:id/fields.json",
      permissions: assetRead,
      family: "asset",
      handler: (req) => {
        const id = toId(req.params.id);
        const form = id === undefined ? undefined : forms.find((f) => f.id === id);
        if (!form) return assetResult([]);
        return assetResult(form.fields.map(fieldOut));
      },
    },
    {
      method: "POST",
      pattern: "/rest/v1/leads/submitForm.json",
      permissions: ["Read-Write Person"],
      family: "rest",
      writes: true,
      handler: (req) => {
        const body = bodyOf(req);
        if (body.formId === undefined || body.formId === null || body.formId === "") throw blank("formId");
        const input = body.input;
        if (!Array.isArray(input) || input.length === 0) throw blank("input");
        if (input.length !== 1) throw new ApiError("1003", "Only one input record is allowed per form submission");
        const formId = toId(body.formId);
        const form = formId === undefined ? undefined : forms.find((f) => f.id === formId);
        if (!form) throw new ApiError("1013", `Form '${String(body.formId)}' not found`);
        let programId: number | undefined;
        if (body.programId !== undefined && body.programId !== null && body.programId !== "") {
          programId = toId(body.programId);
          if (programId === undefined || (programExists && !programExists(programId))) {
            throw new ApiError("1013", `Program '${String(body.programId)}' not found`);
          }
        }

        const record = isObject(input[0]) ? input[0] : {};
        const fields = isObject(record.leadFormFields) ? record.leadFormFields : {};
        const visitorData = isObject(record.visitorData) ? { ...record.visitorData } : undefined;
        const cookie = text(record.cookie);
        const submission: FormSubmission = {
          formId: form.id,
          ...(programId === undefined ? {} : { programId }),
          status: "skipped",
          fields: { ...fields },
          ...(visitorData === undefined ? {} : { visitorData }),
          ...(cookie === undefined ? {} : { cookie }),
          submittedAt: leadDbDate(ctx.now()),
        };
        submissions.push(submission);

        const problem = check(form, fields);
        if (problem) {
          submission.reasons = [problem];
          return { body: { success: true, result: [{ status: "skipped", reasons: [problem] }] } };
        }
        const synced = ctx.leads.sync({ ...fields }, { action: "createOrUpdate", lookupField: "email" });
        submission.status = synced.status;
        if (synced.id === undefined || (synced.status !== "created" && synced.status !== "updated")) {
          const reasons = synced.reasons ?? [];
          submission.reasons = reasons;
          return { body: { success: true, result: [{ status: "skipped", reasons }] } };
        }
        submission.leadId = synced.id;
        activities?.record({
          leadId: synced.id,
          activityTypeId: ACTIVITY_FILL_OUT_FORM,
          primaryAttributeValueId: form.id,
          primaryAttributeValue: form.name,
          attributes: {
            "Form Fields": JSON.stringify(fields),
            "Client IP Address": text(visitorData?.leadClientIpAddress),
            "Query Parameters": text(visitorData?.queryString),
            "Referrer URL": text(visitorData?.pageURL),
            "User Agent": text(visitorData?.userAgentString),
          },
        });
        return { body: { success: true, result: [{ id: synced.id, status: synced.status }] } };
      },
    },
  ];

  return {
    name: "forms",
    routes,
    snapshot: () => ({ forms: clone(forms), formSubmissions: clone(submissions) }),
    reset,
  };
}
