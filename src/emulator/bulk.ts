/**
 * Bulk import endpoints for leads, custom objects and program members. Each
 * upload becomes a job in the shared ImportQueue; its rows go through the same validation as
 * the REST calls (leads sync, custom object sync, program member status) and failing rows end
 * up in the job's failures file with Marketo's reason text.
 */
import { blank, param, toId } from "./common";
import type { CustomObjectsModule } from "./customObjects";
import {
  ImportQueue,
  type ImportFormat,
  type ImportJob,
  type ImportKind,
  type ImportProcessor,
  type RowOutcome,
} from "./importQueue";
import type { ListsModule } from "./lists";
import type { ProgramsModule } from "./programs";
import {
  ApiError,
  type DomainContext,
  type DomainModule,
  type EmuRequest,
  type LeadField,
  type RouteDef,
} from "./types";
import { coerce, isEmail, isStringType } from "./values";

const CSV_TYPE = "text/csv;charset=UTF-8";

export interface BulkModule extends DomainModule {
  /** The queue, for tests and for callers that need to advance jobs explicitly. */
  queue: ImportQueue;
}

/** Reads a form field or query parameter (clients send `format` etc. either way). */
function formParam(req: EmuRequest, name: string): string | undefined {
  const fromForm = req.form?.get(name);
  if (typeof fromForm === "string") return fromForm;
  return param(req, name);
}

async function fileOf(req: EmuRequest): Promise<string> {
  // Without a multipart body, or without its `file` part, Marketo cannot read the upload.
  if (!req.form) throw new ApiError("613", "Invalid multipart request");
  const entry = req.form.get("file");
  if (entry === null) throw new ApiError("613", "Invalid multipart request: missing 'file' part");
  if (typeof entry === "string") return entry;
  return entry.text();
}

function formatOf(req: EmuRequest): ImportFormat {
  const raw = (formParam(req, "format") ?? "csv").toLowerCase();
  if (raw !== "csv" && raw !== "tsv" && raw !== "ssv") {
    throw new ApiError("1003", `Invalid format '${raw}', must be one of csv, tsv, ssv`);
  }
  return raw;
}

/** A row's typed lead values, and the warning the row earns on import (if any). */
interface TypedRow {
  values: Record<string, unknown>;
  warning?: string;
}

function failed(reason: string): RowOutcome {
  return { status: "failed", reason };
}

export function createBulkModule(
  ctx: DomainContext,
  deps: { programs?: ProgramsModule; customObjects?: CustomObjectsModule; lists?: ListsModule } = {},
): BulkModule {
  const queue = new ImportQueue(ctx);

  function leadFields(): Map<string, LeadField> {
    return new Map(ctx.leads.fields().map((f) => [f.name, f]));
  }

  /**
   * Bulk's own type checks, which report with the field's display name as Marketo's files do.
   * An invalid e-mail address does not fail the row: Marketo imports it and lists the row in the
   * warnings file ("Invalid email address").
   */
  function typedLead(record: Record<string, string>, fields: Map<string, LeadField>): TypedRow | RowOutcome {
    const values: Record<string, unknown> = {};
    let warning: string | undefined;
    for (const [name, raw] of Object.entries(record)) {
      const field = fields.get(name);
      if (field?.dataType === "email") {
        if (!isEmail(raw)) warning = "Invalid email address";
        values[name] = raw;
        continue;
      }
      if (field && !isStringType(field.dataType)) {
        const c = coerce(field, raw);
        if (!c.ok) return failed(`Invalid data type in field ${field.displayName}`);
        values[name] = c.value;
        continue;
      }
      values[name] = raw;
    }
    return { values, warning };
  }

  function isOutcome(value: TypedRow | RowOutcome): value is RowOutcome {
    return "status" in value;
  }

  /** The row's outcome once its lead was imported: a warning when one of its values had one. */
  function imported(typed: TypedRow): RowOutcome {
    return typed.warning === undefined ? { status: "imported" } : { status: "warning", reason: typed.warning };
  }

  /** Header columns must be lead fields (skipped when the leads module describes none). */
  function unknownLeadColumn(header: string[]): string | undefined {
    const fields = leadFields();
    if (fields.size === 0) return undefined;
    const unknown = header.find((h) => !fields.has(h) && h !== "id");
    return unknown === undefined ? undefined : `field '${unknown}' in header row not found`;
  }

  function leadProcessor(
    lookupField: string,
    partitionName: string | undefined,
    listId: number | undefined,
  ): ImportProcessor {
    return {
      checkHeader(header) {
        // Unknown columns first: a file whose first row is data is named by its odd "column".
        const unknown = unknownLeadColumn(header);
        if (unknown !== undefined) return unknown;
        return header.includes(lookupField) ? undefined : `lookup field '${lookupField}' not found in header row`;
      },
      row(record) {
        if (record[lookupField] === undefined) return failed(`Missing value for lookup field '${lookupField}'`);
        const typed = typedLead(record, leadFields());
        if (isOutcome(typed)) return typed;
        // lookupField=id means update-only in bulk lead import.
        const action = lookupField === "id" ? "updateOnly" : "createOrUpdate";
        const result = ctx.leads.sync(typed.values, { action, lookupField, partitionName, acceptInvalidEmail: true });
        if (result.status === "created" || result.status === "updated") {
          // "Imported leads become members of this list" (the list named by `listId`).
          if (listId !== undefined && result.id !== undefined) deps.lists?.add(listId, result.id);
          return imported(typed);
        }
        return failed(result.reasons?.[0]?.message ?? "Lead not imported");
      },
    };
  }

  function customObjectProcessor(apiName: string, co: CustomObjectsModule): ImportProcessor {
    return {
      checkHeader(header) {
        const type = co.type(apiName);
        const unknown = header.find((h) => !type?.fields.some((f) => f.name === h));
        return unknown === undefined ? undefined : `field '${unknown}' in header row not found`;
      },
      row(record) {
        // Rows of one file are applied in order, so a repeated key updates rather than 1036.
        const outcome = co.syncOne(apiName, record, { action: "createOrUpdate", dedupeBy: "dedupeFields" }, new Set());
        return outcome.status === "skipped" ? failed(outcome.bulkReason) : { status: "imported" };
      },
    };
  }

  function programMemberProcessor(programId: number, statusName: string, programs: ProgramsModule): ImportProcessor {
    return {
      checkHeader(header) {
        const unknown = unknownLeadColumn(header);
        if (unknown !== undefined) return unknown;
        return header.includes("email") ? undefined : "field 'email' not found in header row";
      },
      row(record) {
        if (record.email === undefined) return failed("Missing value for lookup field 'email'");
        const typed = typedLead(record, leadFields());
        if (isOutcome(typed)) return typed;
        const lead = ctx.leads.sync(typed.values, {
          action: "createOrUpdate",
          lookupField: "email",
          acceptInvalidEmail: true,
        });
        if (lead.id === undefined || (lead.status !== "created" && lead.status !== "updated")) {
          return failed(lead.reasons?.[0]?.message ?? "Lead not imported");
        }
        const change = programs.setMemberStatus(programId, statusName, lead.id, "Bulk import");
        if (change.status !== "skipped") return imported(typed);
        const reason = change.reasons[0];
        // The lead itself was imported; only its status did not move.
        if (reason?.code === "1037") return { status: "warning", reason: reason.message };
        return failed(reason?.message ?? "Program member not imported");
      },
    };
  }

  function jobOr404(kind: ImportKind, req: EmuRequest): ImportJob | undefined {
    const id = toId(req.params.batchId);
    const job = id === undefined ? undefined : queue.get(id, kind);
    if (job && kind === "customObject" && job.details.objectApiName !== req.params.apiName) return undefined;
    return job;
  }

  function jobOrThrow(kind: ImportKind, req: EmuRequest): ImportJob {
    const job = jobOr404(kind, req);
    if (!job) throw new ApiError("1013", `Import batch '${req.params.batchId}' not found`);
    return job;
  }

  function counts(job: ImportJob, processedKey: string): Record<string, unknown> {
    return {
      [processedKey]: job.processed,
      numOfRowsFailed: job.failed,
      numOfRowsWithWarning: job.warned,
      ...(job.message === undefined ? {} : { message: job.message }),
    };
  }

  function leadStyleStatus(job: ImportJob): Record<string, unknown> {
    return {
      batchId: job.batchId,
      importId: String(job.batchId),
      status: job.status,
      ...counts(job, "numOfLeadsProcessed"),
    };
  }

  function customObjectStatus(job: ImportJob): Record<string, unknown> {
    const out: Record<string, unknown> = {
      batchId: job.batchId,
      operation: "import",
      status: job.status,
      objectApiName: job.details.objectApiName,
      ...counts(job, "numOfObjectsProcessed"),
    };
    if (job.startedAt !== undefined && job.finishedAt !== undefined) {
      out.importTime = `${Math.max(1, Math.ceil((job.finishedAt - job.startedAt) / 1000))} second(s)`;
    }
    return out;
  }

  /** The failures/warnings download routes for one kind of import. */
  function fileRoutes(kind: ImportKind, base: string, permissions: RouteDef["permissions"]): RouteDef[] {
    return (["failures", "warnings"] as const).map((which) => ({
      method: "GET" as const,
      pattern: `${base}/${which}.json`,
      permissions,
      family: "bulk" as const,
      handler: (req: EmuRequest) => {
        const job = jobOr404(kind, req);
        const csv = job ? queue.file(job, which) : undefined;
        if (csv === undefined) {
          return {
            status: 404,
            body: {
              success: false,
              errors: [{ code: "1013", message: `No ${which} file for batch '${req.params.batchId}'` }],
            },
          };
        }
        return { body: csv, contentType: CSV_TYPE };
      },
    }));
  }

  const person: RouteDef["permissions"] = ["Read-Write Person"];
  const customObjects: RouteDef["permissions"] = ["Read-Write Custom Objects"];
  const personRead: RouteDef["permissions"] = ["Read-Only Person", "Read-Write Person"];
  const customObjectsRead: RouteDef["permissions"] = ["Read-Only Custom Objects", "Read-Write Custom Objects"];

  const routes: RouteDef[] = [
    {
      method: "POST",
      pattern: "/bulk/v1/leads.json",
      permissions: person,
      family: "bulk",
      writes: true,
      handler: async (req) => {
        const format = formatOf(req);
        const lookupField = formParam(req, "lookupField") || "email";
        const fields = leadFields();
        if (fields.size > 0 && !fields.has(lookupField) && lookupField !== "id") {
          throw new ApiError("1006", `Lookup field '${lookupField}' not found`);
        }
        const listRaw = formParam(req, "listId");
        let listId: number | undefined;
        if (listRaw !== undefined && listRaw !== "") {
          listId = toId(listRaw);
          if (listId === undefined) throw new ApiError("1003", `Invalid listId '${listRaw}'`);
          // Marketo imports into one list one job at a time.
          if (queue.active().some((j) => j.details.listId === listId)) throw new ApiError("1019", "Import in progress");
        }
        const partitionName = formParam(req, "partitionName") || undefined;
        const file = await fileOf(req);
        const job = queue.enqueue("leads", format, file, leadProcessor(lookupField, partitionName, listId), {
          lookupField,
          ...(listId === undefined ? {} : { listId }),
          ...(partitionName === undefined ? {} : { partitionName }),
        });
        return {
          body: {
            success: true,
            result: [{ batchId: job.batchId, importId: String(job.batchId), status: job.status }],
          },
        };
      },
    },
    {
      method: "GET",
      pattern: "/bulk/v1/leads/batch/:batchId.json",
      permissions: personRead,
      family: "bulk",
      handler: (req) => ({ body: { success: true, result: [leadStyleStatus(jobOrThrow("leads", req))] } }),
    },
    ...fileRoutes("leads", "/bulk/v1/leads/batch/:batchId", personRead),
    {
      method: "POST",
      pattern: "/bulk/v1/customobjects/:apiName/import.json",
      permissions: customObjects,
      family: "bulk",
      writes: true,
      handler: async (req) => {
        const co = deps.customObjects;
        const apiName = req.params.apiName;
        if (!co?.type(apiName)) throw new ApiError("1013", `Custom object type '${apiName}' not found`);
        const format = formatOf(req);
        const file = await fileOf(req);
        const job = queue.enqueue("customObject", format, file, customObjectProcessor(apiName, co), {
          objectApiName: apiName,
        });
        return {
          body: { success: true, result: [{ batchId: job.batchId, status: job.status, objectApiName: apiName }] },
        };
      },
    },
    {
      method: "GET",
      pattern: "/bulk/v1/customobjects/:apiName/import/:batchId/status.json",
      permissions: customObjectsRead,
      family: "bulk",
      handler: (req) => ({ body: { success: true, result: [customObjectStatus(jobOrThrow("customObject", req))] } }),
    },
    ...fileRoutes("customObject", "/bulk/v1/customobjects/:apiName/import/:batchId", customObjectsRead),
    {
      method: "POST",
      pattern: "/bulk/v1/program/:programId/members/import.json",
      permissions: person,
      family: "bulk",
      writes: true,
      handler: async (req) => {
        const programs = deps.programs;
        const programId = toId(req.params.programId);
        if (!programs || programId === undefined || !programs.program(programId)) {
          throw new ApiError("1013", `Program '${req.params.programId}' not found`);
        }
        const statusName = formParam(req, "programMemberStatus")?.trim();
        if (!statusName) throw blank("programMemberStatus");
        // An impossible status fails the call rather than every row of the job.
        programs.settableStatus(programId, statusName);
        const format = formatOf(req);
        const file = await fileOf(req);
        const job = queue.enqueue(
          "programMember",
          format,
          file,
          programMemberProcessor(programId, statusName, programs),
          {
            programId,
            programMemberStatus: statusName,
          },
        );
        return {
          body: {
            success: true,
            result: [{ batchId: job.batchId, importId: String(job.batchId), status: job.status }],
          },
        };
      },
    },
    {
      method: "GET",
      pattern: "/bulk/v1/program/members/import/:batchId/status.json",
      permissions: personRead,
      family: "bulk",
      handler: (req) => ({ body: { success: true, result: [leadStyleStatus(jobOrThrow("programMember", req))] } }),
    },
    ...fileRoutes("programMember", "/bulk/v1/program/members/import/:batchId", personRead),
  ];

  return {
    name: "bulk",
    routes,
    queue,
    snapshot: () => ({ imports: queue.snapshot() }),
    reset: () => queue.reset(),
  };
}
