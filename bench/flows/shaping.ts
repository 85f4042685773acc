/**
 * Flow-node speed: tag-filter → field-mapper → status-mapper from their editor defaults, and the
 * same decisions built from core nodes (switch, change, function), in one runtime. The core
 * version is written the fast way a user could: plain switch rules, one move, one function
 * with the field rules and the status ladder; no JSONata. Both route every message to the same
 * kind of outcome (passed, not a source/test, invalid fields, status held back), and the
 * benchmark checks that the counts agree.
 */
import { editorDefaults } from "../../test/helpers/editor-defaults";
import { fn, packageNode, sink, tab, TAB, type BenchFlow, type FlowNode } from "./common";

export const OUTCOMES = ["out", "rejected", "invalid", "held"] as const;

export interface Chain {
  name: string;
  entry: string;
  /** Sink ids in OUTCOMES order. */
  sinks: string[];
}

function switchNode(id: string, property: string, rules: Array<Record<string, unknown>>, wires: string[][]): FlowNode {
  return {
    id,
    type: "switch",
    z: TAB,
    name: `${id} (switch)`,
    property,
    propertyType: "msg",
    rules,
    checkall: "false",
    repair: false,
    outputs: rules.length,
    wires,
  };
}

/** field-mapper's default rows, field-mapper's email rule and Proper Case, status-mapper's Kaltura ladder and memory. */
function coreFunction(): string {
  const ladder = (
    editorDefaults("status-mapper").rules as Array<{ source: string; name: string; step: number; success: boolean }>
  ).map((r) => [r.source, r.name, r.step, r.success]);
  return `
const EMAIL = /^[A-Za-z0-9!#$%&'*+/=?^_\`{|}~-]+(?:\\.[A-Za-z0-9!#$%&'*+/=?^_\`{|}~-]+)*@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)+$/;
let table = context.get("table");
if (!table) {
  table = new Map();
  for (const [source, name, step, success] of ${JSON.stringify(ladder)}) table.set(source.replace(/[\\s\\-_]+/g, "").toLowerCase(), { name, step, success });
  context.set("table", table);
}
const proper = (t) => t.toLowerCase()
  .replace(/(^|[^\\p{L}\\p{M}\\p{N}'’])(\\p{L})/gu, (m, pre, ch) => pre + ch.toUpperCase())
  .replace(/(^|[^\\p{L}\\p{M}\\p{N}])(\\p{L}\\p{M}*)(['’])(\\p{Ll})/gu, (m, pre, one, ap, ch) => pre + one + ap + ch.toUpperCase());
const text = (v) => (typeof v === "string" ? v.trim() : v === undefined || v === null ? "" : String(v).trim());

// field-mapper: the Marketo lead record from the event (now in msg.source)
const p = (msg.source && msg.source.profile) || {};
const r = msg.source && msg.source.registration || {};
const lead = {
  email: text(p.email).toLowerCase(),
  firstName: proper(text(p.firstName)),
  lastName: proper(text(p.lastName)),
};
const company = text(p.company);
if (company) lead.company = company;
const code = text(r.code);
if (code) lead.registrationCode = code;
const problems = [];
for (const f of ["email", "firstName", "lastName"]) if (!lead[f]) problems.push(f + ": required but empty");
if (lead.email && (lead.email.length > 254 || !EMAIL.test(lead.email))) problems.push("email: not a valid email address");
if (problems.length) {
  msg.filtered = { rule: "fields", reason: problems.join("; ") };
  return [null, msg, null];
}
msg.payload = lead;

// status-mapper: the program status, held back when Marketo would skip it (1037)
const status = typeof r.status === "string" ? table.get(r.status.replace(/[\\s\\-_]+/g, "").toLowerCase()) : undefined;
if (!status) {
  msg.filtered = { rule: "unknown-status", reason: "status " + r.status + " is not in the status table" };
  return [null, null, msg];
}
let memory = context.get("memory");
if (!memory) { memory = new Map(); context.set("memory", memory); }
const key = "\\u0000" + lead.email;
const last = memory.get(key);
if (last && last.name !== status.name && status.step <= last.step) {
  msg.filtered = { rule: "backward", reason: status.name + " (" + status.step + ") is not above " + last.name + " (" + last.step + ")" };
  return [null, null, msg];
}
memory.delete(key);
memory.set(key, status);
if (memory.size > 100000) memory.delete(memory.keys().next().value);
msg.marketo = Object.assign(msg.marketo || {}, { programStatus: { name: status.name, step: status.step, success: status.success, source: r.status } });
return [msg, null, null];`;
}

export function shapingFlow(): { flow: BenchFlow; chains: Chain[] } {
  const ours: Chain = { name: "package nodes", entry: "tf", sinks: OUTCOMES.map((o) => `ours-${o}`) };
  const core: Chain = { name: "core nodes", entry: "core-topic", sinks: OUTCOMES.map((o) => `core-${o}`) };
  const nodes: FlowNode[] = [
    tab("flow-shaping"),
    packageNode("tag-filter", "tf", [["fm"], ["ours-rejected"]]),
    packageNode("field-mapper", "fm", [["sm"], ["ours-invalid"]]),
    packageNode("status-mapper", "sm", [["ours-out"], ["ours-held"]]),
    // tag-filter's defaults: registration create/update only, live data only.
    switchNode(
      "core-topic",
      "topic",
      [
        { t: "eq", v: "registration.created", vt: "str" },
        { t: "eq", v: "registration.updated", vt: "str" },
        { t: "else" },
      ],
      [["core-regtest"], ["core-regtest"], ["core-rejected"]],
    ),
    switchNode(
      "core-regtest",
      "payload.registration.test",
      [{ t: "false" }, { t: "else" }],
      [["core-evtest"], ["core-rejected"]],
    ),
    switchNode(
      "core-evtest",
      "payload.event.test",
      [{ t: "false" }, { t: "else" }],
      [["core-move"], ["core-rejected"]],
    ),
    {
      id: "core-move",
      type: "change",
      z: TAB,
      name: "event to msg.source",
      rules: [{ t: "move", p: "payload", pt: "msg", to: "source", tot: "msg" }],
      wires: [["core-map"]],
    },
    fn("core-map", coreFunction(), 3, [["core-out"], ["core-invalid"], ["core-held"]]),
    ...[...ours.sinks, ...core.sinks].map(sink),
  ];
  return {
    flow: { nodes, sinks: Object.fromEntries([...ours.sinks, ...core.sinks].map((id) => [id, {}])) },
    chains: [ours, core],
  };
}
