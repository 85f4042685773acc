/**
 * marketo-program-status's Node-RED side, apart from the node function: its settings read and
 * checked at deploy, its property readers in the handler's shape, and the deploy-time check of a
 * fixed program's channel.
 */
import type { Node, NodeAPI, NodeDef } from "node-red";
import type { ActionNodeDef } from "./action-node";
import { typedInputReader, type TypedInputReader } from "./typed-input";
import { errorText } from "./guards";
import { MarketoError } from "../marketo";
import { duplicatePolicy, type DuplicatePolicy } from "../actions/lead-lookup";
import { parseBulkThreshold } from "../actions/bulk-switch";
import type { NoShowSettingsInput } from "../actions/no-show-sweep";
import type { ProgramStatusReader, ProgramStatusReaders } from "../actions/program-status-handler";
import {
  checkReport,
  parseSettings,
  programIdFrom,
  readFailureHint,
  statusesOfMappers,
  upstreamStatusMappers,
  NODE_TYPE,
  type ChannelCache,
  type FlowNode,
  type ProgramStatusSettings,
} from "../actions/program-status";

export interface ProgramStatusDef extends ActionNodeDef, NoShowSettingsInput {
  program?: string;
  programType?: string;
  programStatus?: string;
  programStatusType?: string;
  /** 0.1.0's names for programStatus and its type (read by parseSettings when the new ones are absent). */
  status?: unknown;
  statusType?: string;
  email?: string;
  emailType?: string;
  createMissing?: boolean | string;
  /** Several leads with the email: fail, newest, oldest or all. */
  duplicates?: string;
  /** A backlog above this many records goes to Marketo's program member bulk import (0 = never). */
  bulkThreshold?: string | number;
}

/** A failure in the words of a warning or an answer; a Marketo error keeps its code and a hint. */
export function describeError(err: unknown): { code?: string; text: string } {
  if (err instanceof MarketoError)
    return { code: err.code, text: `${err.category}: ${err.message}${readFailureHint(err.code)}` };
  return { text: errorText(err) };
}

/**
 * The toolkit's reader in the handler's shape (the reason of a failed read is its message). A
 * property that could not be prepared is a deploy problem, so no record reaches its read. The
 * read stays one promise: records reach the client's batcher in the same ticks as they always have.
 */
function asReader(r: TypedInputReader | undefined, what: string): ProgramStatusReader {
  if (!r) return { label: what, read: async () => ({ ok: false, message: `the ${what} property is invalid` }) };
  return {
    label: r.label,
    read: (msg) =>
      new Promise((resolve) =>
        r.read(msg, (got) => resolve(got.ok ? { ok: true, value: got.value } : { ok: false, message: got.reason })),
      ),
  };
}

/** The node's settings as read at deploy; `problems` not empty means no record is sent. */
export interface ProgramStatusSetup {
  settings: ProgramStatusSettings;
  problems: string[];
  duplicates: DuplicatePolicy | undefined;
  /** Records in the backlog above which the program member import is used (0 = never). */
  bulkThreshold: number;
  readers: ProgramStatusReaders;
  /** The program when every record uses the same one (a number, or an env var): checked at deploy. */
  fixedProgram: number | undefined;
}

export function programStatusSetup(RED: NodeAPI, node: Node, def: ProgramStatusDef): ProgramStatusSetup {
  const { settings, problems } = parseSettings(def);
  const duplicates = duplicatePolicy(def.duplicates);
  if (duplicates === undefined)
    problems.push(`duplicate leads must be fail, newest, oldest or all, not ${JSON.stringify(def.duplicates)}`);
  const bulkThreshold = parseBulkThreshold(def.bulkThreshold);
  if (bulkThreshold.problem) problems.push(bulkThreshold.problem);

  let readProgram: TypedInputReader | undefined;
  let readStatus: TypedInputReader | undefined;
  let readEmail: TypedInputReader | undefined;
  try {
    readProgram = typedInputReader(RED, node, settings.program.value, settings.program.type);
    readStatus = typedInputReader(RED, node, settings.status.value, settings.status.type);
    readEmail = typedInputReader(RED, node, settings.email.value, settings.email.type);
  } catch (err) {
    problems.push(`a property is invalid: ${errorText(err)}`);
  }
  let fixedProgram: number | undefined;
  if (problems.length === 0 && readProgram?.constant) {
    const id = programIdFrom(readProgram.constant.value, readProgram.label);
    if (id.ok) fixedProgram = id.value;
    else problems.push(id.message);
  }
  return {
    settings,
    problems,
    duplicates,
    bulkThreshold: bulkThreshold.value,
    readers: {
      program: asReader(readProgram, "program"),
      status: asReader(readStatus, "status"),
      email: asReader(readEmail, "email"),
    },
    fixedProgram,
  };
}

/** Every node of the deployed flows, as the runtime holds their settings. */
function flowNodes(RED: NodeAPI): FlowNode[] {
  const out: FlowNode[] = [];
  RED.nodes.eachNode((n: NodeDef) => out.push(n as unknown as FlowNode));
  return out;
}

/**
 * At deploy, with a fixed program: reads the program and its channel (2 calls, kept for the
 * 1025 message) and warns about the statuses the flow may send that the channel lacks. Runs
 * after the flows have started (so every upstream status-mapper is known) and never fails the deploy.
 */
export function checkProgramAtDeploy(check: {
  RED: NodeAPI;
  node: Node;
  settings: ProgramStatusSettings;
  channels: ChannelCache;
  programId: number;
  closed(): boolean;
}): void {
  const { RED, node, settings, channels, programId } = check;
  setImmediate(() => {
    if (check.closed()) return;
    const statuses =
      settings.status.type === "str"
        ? [settings.status.value]
        : statusesOfMappers(upstreamStatusMappers(flowNodes(RED), node.id));
    channels
      .get(programId)
      .then((info) => {
        if (check.closed()) return;
        for (const problem of checkReport(info, statuses).problems) node.warn(`${NODE_TYPE}: ${problem}`);
      })
      .catch((err: unknown) => {
        if (!check.closed())
          node.warn(`${NODE_TYPE}: could not check program ${programId}: ${describeError(err).text}`);
      });
  });
}
