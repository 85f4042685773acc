/**
 * What the package has done, for the Marketo sidebar: records per node and outcome,
 * records tag-filter held back, connection events per marketo-config, and a bounded feed of the
 * latest records. Process-wide, in memory: figures since Node-RED started. Marketo's own counters
 * (calls today, per operation, limiter state) come from each config's client, not from here.
 */
import { eventRoot } from "../flow/event";
import { isRecord } from "../node-kit/guards";

export interface NodeRef {
  id: string;
  type: string;
  name: string;
}

/** Outcomes counted per node: Marketo's record status ("created", "added"...), or "failed". */
export interface NodeFigures extends NodeRef {
  config: string;
  outcomes: Record<string, number>;
  /** Failures by category (validation, auth, rate-limit, quota, network, marketo). */
  failures: Record<string, number>;
  /** Records the node handed to Marketo's client that are not answered yet. */
  backlog: number;
}

export interface FeedItem {
  at: string;
  node: NodeRef;
  config: string;
  /** The record's registration code (event.registration.code, registrationCode...) if it has one. */
  registration?: string;
  /** What happened on the platform: msg.topic, or the event's own type. */
  event?: string;
  email?: string;
  ok: boolean;
  /** Marketo's status for it, or the failure's category. */
  outcome: string;
  code?: string;
}

export interface ConnectionEvent {
  at: string;
  state: string;
  reason?: string;
}

const FEED_SIZE = 200;
const CONNECTION_EVENTS = 50;

type Listener = () => void;

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() ? v : typeof v === "number" ? String(v) : undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return isRecord(v) ? v : undefined;
}

/** Registration code and event name of the platform event a message carries, where they usually are. */
export function describeEvent(msg: Record<string, unknown>): { registration?: string; event?: string; email?: string } {
  const { root } = eventRoot(msg as { payload?: unknown; source?: unknown });
  const ev = obj(root) ?? {};
  const payload = obj(msg.payload) ?? {};
  const registration = obj(ev.registration);
  return {
    registration:
      str(registration?.code) ?? str(ev.registrationCode) ?? str(ev.registration_code) ?? str(registration?.id),
    event: str(msg.topic) ?? str(ev.type) ?? str(ev.event) ?? str(ev.eventType),
    email: str(payload.email) ?? str(obj(ev.profile)?.email) ?? str(ev.email),
  };
}

export class Metrics {
  private readonly nodes = new Map<string, NodeFigures>();
  private readonly filteredBy = new Map<string, NodeRef & { count: number }>();
  private readonly duplicatesBy = new Map<string, NodeRef & { count: number }>();
  private readonly connections = new Map<string, ConnectionEvent[]>();
  private feedItems: FeedItem[] = [];
  private readonly listeners = new Set<Listener>();

  /** One record answered by an action node. */
  record(
    node: NodeRef,
    config: string,
    msg: Record<string, unknown>,
    ok: boolean,
    status: string,
    error?: { category?: string; code?: string },
  ): void {
    let n = this.nodes.get(node.id);
    if (!n) {
      n = { ...node, config, outcomes: {}, failures: {}, backlog: 0 };
      this.nodes.set(node.id, n);
    }
    n.name = node.name;
    n.config = config;
    const outcome = ok ? status || "ok" : "failed";
    n.outcomes[outcome] = (n.outcomes[outcome] ?? 0) + 1;
    const category = error?.category ?? "marketo";
    if (!ok) n.failures[category] = (n.failures[category] ?? 0) + 1;
    const item: FeedItem = {
      at: new Date().toISOString(),
      node: { ...node },
      config,
      ok,
      outcome: ok ? outcome : category,
      ...describeEvent(msg),
    };
    if (!ok && error?.code) item.code = error.code;
    this.feedItems.push(item);
    // Trimmed in steps, not per record: a shift per record is O(n) on a busy flow.
    if (this.feedItems.length > FEED_SIZE * 2) this.feedItems = this.feedItems.slice(-FEED_SIZE);
    this.changed();
  }

  /**
   * How many records an action node waits on Marketo for. Kept live through a quota pause, when
   * nothing is answered and the backlog is the figure that matters.
   */
  backlog(node: NodeRef, config: string, count: number): void {
    let n = this.nodes.get(node.id);
    if (n && n.backlog === count) return;
    if (!n) {
      if (count === 0) return;
      n = { ...node, config, outcomes: {}, failures: {}, backlog: 0 };
      this.nodes.set(node.id, n);
    }
    n.backlog = count;
    this.changed();
  }

  /** A message tag-filter held back: an action not triggered. */
  filtered(node: NodeRef): void {
    const f = this.filteredBy.get(node.id) ?? { ...node, count: 0 };
    f.name = node.name;
    f.count++;
    this.filteredBy.set(node.id, f);
    this.changed();
  }

  /** A lookup by email found several leads and the node's duplicate policy decided. */
  duplicateLeads(node: NodeRef): void {
    const f = this.duplicatesBy.get(node.id) ?? { ...node, count: 0 };
    f.name = node.name;
    f.count++;
    this.duplicatesBy.set(node.id, f);
    this.changed();
  }

  /** A marketo-config's client changed state (ok, rate limited, quota, auth failed...). */
  connection(config: string, state: string, reason?: string): void {
    const list = this.connections.get(config) ?? [];
    const last = list[list.length - 1];
    if (last && last.state === state && last.reason === reason) return;
    list.push({ at: new Date().toISOString(), state, ...(reason ? { reason } : {}) });
    if (list.length > CONNECTION_EVENTS) list.splice(0, list.length - CONNECTION_EVENTS);
    this.connections.set(config, list);
    this.changed();
  }

  /** A node or config left for good: its figures go too. */
  forget(id: string): void {
    this.nodes.delete(id);
    this.filteredBy.delete(id);
    this.duplicatesBy.delete(id);
    this.connections.delete(id);
    this.changed();
  }

  nodeFigures(): NodeFigures[] {
    return [...this.nodes.values()].map((n) => ({ ...n, outcomes: { ...n.outcomes }, failures: { ...n.failures } }));
  }

  filteredFigures(): Array<NodeRef & { count: number }> {
    return [...this.filteredBy.values()].map((f) => ({ ...f }));
  }

  duplicateFigures(): Array<NodeRef & { count: number }> {
    return [...this.duplicatesBy.values()].map((f) => ({ ...f }));
  }

  connectionEvents(config: string): ConnectionEvent[] {
    return [...(this.connections.get(config) ?? [])].reverse();
  }

  /** Newest first. */
  feed(limit = FEED_SIZE): FeedItem[] {
    return this.feedItems.slice(-Math.min(limit, FEED_SIZE)).reverse();
  }

  onChange(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Forget everything (tests). */
  reset(): void {
    this.nodes.clear();
    this.filteredBy.clear();
    this.duplicatesBy.clear();
    this.connections.clear();
    this.feedItems = [];
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}

/** The one registry of this Node-RED process. */
export const metrics = new Metrics();
