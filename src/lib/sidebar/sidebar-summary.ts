/**
 * The figures the Marketo sidebar shows, built from the process-wide metrics, what each
 * deployed marketo-config's client says of itself, and the retry queues' figures. No Node-RED:
 * src/marketo-sidebar.ts gathers the inputs; this decides what they mean to an operator.
 *
 * Never a secret: only ids, names, counters, states and Marketo's short reasons go out.
 */
import type { StateEvent, Usage } from "../marketo";
import type { ConnectionEvent, Metrics, NodeFigures } from "./metrics";

/** What the summary needs to know of a deployed node's settings: its type and what it does. */
export interface NodeSettings {
  type: string;
  /** marketo-config id the node uses. */
  marketo?: string;
  /** marketo-lead: sync, trigger or form. */
  action?: string;
  /** marketo-custom-activity: activity or customObject. */
  target?: string;
}

/** One deployed marketo-config as the plugin sees it. */
export interface ConfigView {
  id: string;
  name: string;
  /** The Marketo instance (REST host): configs naming the same one share its limits and day's count. */
  instance?: string;
  state: StateEvent;
  /** The client's figures; absent when the config cannot make a client. */
  usage?: Usage;
  /** Why the config cannot make a client (its MarketoError's message and category). */
  problem?: { message: string; category: string };
}

/** One deployed retry-queue, as GET /retry-queue and its entries route describe it. */
export interface QueueView {
  id: string;
  name: string;
  size: number;
  counts: { state: Record<string, number>; category: Record<string, number> };
  totals?: Record<string, number>;
}

export interface OperationFigures {
  operation: string;
  calls: number;
  records: number;
  /** The node types of this config that send it. */
  nodeTypes: string[];
}

export interface ConfigSummary {
  id: string;
  name: string;
  /** The Marketo instance (REST host); configs with the same one share one set of limits. */
  instance?: string;
  state: StateEvent;
  problem?: { message: string; category: string };
  records: { processed: number; delivered: number; failed: number };
  leads: { created: number; updated: number; unchanged: number; imported: number };
  programStatuses: { set: number; unchanged: number };
  activities: { added: number };
  customObjects: { created: number; updated: number; unchanged: number };
  campaigns: { triggered: number };
  formPosts: number;
  failures: Record<string, number>;
  calls: { today: number; dailyBudget: number; total: number; byOperation: OperationFigures[] };
  /**
   * What exactly-once delivery cost: questions asked before re-sending a custom activity, campaign
   * request or form fill that may have applied. Their calls are also in byOperation, named after
   * the write (`addCustomActivities:getLeadActivities`), so they show under the node that sends it.
   */
  arrivalChecks: { checks: number; calls: number; found: number; resent: number; unconfirmed: number };
  queuedRecords: number;
  inFlight: number;
  /** Records this config's nodes wait on Marketo for (live through a quota pause). */
  backlog: number;
  nodes: NodeFigures[];
  connections: ConnectionEvent[];
}

export interface RetrySummary {
  queues: QueueView[];
  totals: { retried: number; abandoned: number; validation: number; waiting: number; held: number };
}

export interface SidebarSummary {
  at: string;
  configs: ConfigSummary[];
  filtered: { total: number; nodes: Array<{ id: string; name: string; count: number }> };
  /** Lookups that found several leads with one email, per node (its duplicate policy decided). */
  duplicates: { total: number; nodes: Array<{ id: string; name: string; count: number }> };
  /** Absent when the retry queues' figures cannot be read from here (the editor reads their route). */
  retry?: RetrySummary;
}

/**
 * Who sends which Marketo operation, by the operation's name (bulk jobs append Files/Status...).
 * The longest matching prefix wins.
 */
const OPERATION_USERS: Array<[string, string[]]> = [
  ["syncLeads", ["marketo-lead", "marketo-program-status", "marketo-custom-activity"]],
  ["getLeadsByFilter", ["marketo-lead", "marketo-program-status", "marketo-custom-activity"]],
  ["describeLeads", ["field-mapper", "marketo-lead"]],
  ["bulkImportLeads", ["marketo-lead"]],
  ["triggerCampaign", ["marketo-lead"]],
  ["getCampaign", ["marketo-lead"]],
  ["submitForm", ["marketo-lead"]],
  ["getForm", ["marketo-lead"]],
  ["syncProgramMemberStatus", ["marketo-program-status"]],
  ["changeLeadProgramStatus", ["marketo-program-status"]],
  ["deleteProgramMembers", ["marketo-program-status"]],
  ["bulkImportProgramMembers", ["marketo-program-status"]],
  ["getProgram", ["marketo-program-status"]],
  ["getChannel", ["marketo-program-status"]],
  ["addCustomActivities", ["marketo-custom-activity"]],
  ["getActivityTypes", ["marketo-custom-activity"]],
  ["listCustomActivityTypes", ["marketo-custom-activity"]],
  ["describeCustomActivityType", ["marketo-custom-activity"]],
  ["syncCustomObjects", ["marketo-custom-activity"]],
  ["describeCustomObject", ["marketo-custom-activity"]],
  ["listCustomObjects", ["marketo-custom-activity"]],
  ["bulkImportCustomObjects", ["marketo-custom-activity"]],
  ["checkAccess", ["marketo-config"]],
];

export function operationUsers(operation: string): string[] {
  let best: [string, string[]] | undefined;
  for (const entry of OPERATION_USERS) {
    if (operation.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry;
  }
  return best ? [...best[1]] : [];
}

const sum = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);
const n = (o: Record<string, number> | undefined, k: string): number => o?.[k] ?? 0;

function emptyConfig(c: ConfigView): ConfigSummary {
  return {
    id: c.id,
    name: c.name,
    ...(c.instance ? { instance: c.instance } : {}),
    state: { ...c.state },
    ...(c.problem ? { problem: { ...c.problem } } : {}),
    records: { processed: 0, delivered: 0, failed: 0 },
    leads: { created: 0, updated: 0, unchanged: 0, imported: 0 },
    programStatuses: { set: 0, unchanged: 0 },
    activities: { added: 0 },
    customObjects: { created: 0, updated: 0, unchanged: 0 },
    campaigns: { triggered: 0 },
    formPosts: 0,
    failures: {},
    calls: { today: 0, dailyBudget: 0, total: 0, byOperation: [] },
    arrivalChecks: { checks: 0, calls: 0, found: 0, resent: 0, unconfirmed: 0 },
    queuedRecords: 0,
    inFlight: 0,
    backlog: 0,
    nodes: [],
    connections: [],
  };
}

/** Adds one node's outcomes to the config's figures, by what the node does. */
function addNode(s: ConfigSummary, f: NodeFigures, settings: NodeSettings | undefined): void {
  const o = f.outcomes;
  const failed = n(o, "failed");
  const delivered = sum(o) - failed;
  s.records.processed += delivered + failed;
  s.records.delivered += delivered;
  s.records.failed += failed;
  for (const [category, count] of Object.entries(f.failures))
    s.failures[category] = (s.failures[category] ?? 0) + count;
  if (f.type === "marketo-lead") {
    const action = settings?.action || "sync";
    if (action === "trigger") s.campaigns.triggered += delivered;
    else if (action === "form") s.formPosts += delivered;
    else {
      s.leads.created += n(o, "created");
      s.leads.updated += n(o, "updated");
      s.leads.unchanged += n(o, "unchanged");
      s.leads.imported += n(o, "imported");
    }
  } else if (f.type === "marketo-program-status") {
    s.programStatuses.unchanged += n(o, "unchanged");
    s.programStatuses.set += delivered - n(o, "unchanged");
  } else if (f.type === "marketo-custom-activity") {
    if (settings?.target === "customObject") {
      s.customObjects.created += n(o, "created");
      s.customObjects.updated += n(o, "updated");
      s.customObjects.unchanged += n(o, "unchanged");
    } else {
      s.activities.added += delivered;
    }
  }
}

function queueTotals(queues: QueueView[]): RetrySummary["totals"] {
  const t = { retried: 0, abandoned: 0, validation: 0, waiting: 0, held: 0 };
  for (const q of queues) {
    t.retried += n(q.totals, "retried");
    // Given up on for good: those the queue abandoned, whether or not they are still listed.
    t.abandoned += q.totals ? n(q.totals, "abandoned") : n(q.counts.state, "abandoned");
    t.validation += n(q.counts.category, "validation");
    t.waiting += n(q.counts.state, "waiting") + n(q.counts.state, "retrying");
    t.held += n(q.counts.state, "held");
  }
  return t;
}

export interface SummaryInput {
  metrics: Metrics;
  configs: ConfigView[];
  /** Settings of every deployed node by id (type, marketo, action, target). */
  nodes: Map<string, NodeSettings>;
  queues?: QueueView[];
  now?: Date;
}

export function buildSummary(input: SummaryInput): SidebarSummary {
  const byConfig = new Map<string, ConfigSummary>();
  for (const c of input.configs) byConfig.set(c.id, emptyConfig(c));

  for (const f of input.metrics.nodeFigures()) {
    const s = byConfig.get(f.config);
    // A node of a config that is no longer deployed: its figures have no card to go on.
    if (!s) continue;
    s.nodes.push(f);
    s.backlog += f.backlog;
    addNode(s, f, input.nodes.get(f.id));
  }

  for (const c of input.configs) {
    const s = byConfig.get(c.id)!;
    s.connections = input.metrics.connectionEvents(c.id).slice(0, 10);
    const u = c.usage;
    if (!u) continue;
    const usedBy = new Set<string>();
    for (const settings of input.nodes.values()) if (settings.marketo === c.id) usedBy.add(settings.type);
    s.calls = {
      today: u.callsToday,
      dailyBudget: u.dailyBudget,
      total: u.callsTotal,
      byOperation: Object.entries(u.callsByOperation)
        .map(([operation, calls]) => {
          const possible = operationUsers(operation);
          const deployed = possible.filter((t) => usedBy.has(t));
          return {
            operation,
            calls,
            records: u.recordsByOperation[operation] ?? 0,
            nodeTypes: deployed.length ? deployed : possible,
          };
        })
        .sort((a, b) => b.calls - a.calls || a.operation.localeCompare(b.operation)),
    };
    if (u.arrivalChecks) s.arrivalChecks = { ...u.arrivalChecks };
    s.queuedRecords = u.queuedRecords;
    s.inFlight = u.inFlight;
  }

  const filteredNodes = input.metrics.filteredFigures().map((f) => ({ id: f.id, name: f.name, count: f.count }));
  const duplicateNodes = input.metrics.duplicateFigures().map((f) => ({ id: f.id, name: f.name, count: f.count }));
  const summary: SidebarSummary = {
    at: (input.now ?? new Date()).toISOString(),
    configs: [...byConfig.values()].sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id)),
    filtered: { total: filteredNodes.reduce((a, f) => a + f.count, 0), nodes: filteredNodes },
    duplicates: { total: duplicateNodes.reduce((a, f) => a + f.count, 0), nodes: duplicateNodes },
  };
  if (input.queues) summary.retry = { queues: input.queues.map((q) => ({ ...q })), totals: queueTotals(input.queues) };
  return summary;
}
