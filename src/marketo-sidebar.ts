/**
 * The Marketo sidebar's runtime side (issue 6): a Node-RED plugin whose admin routes answer the
 * summary and the activity feed, and which pushes a fresh summary to open editors over RED.comms
 * when the figures move. The editor side is nodes/marketo-sidebar.html; what the figures mean is
 * src/lib/sidebar-summary.ts. The retry queue's own routes serve the troubleshooting part.
 */
import { isMarketoConfig } from "./lib/marketo-config-api";
import { metrics } from "./lib/metrics";
import { buildSummary, type ConfigView, type NodeSettings, type SidebarSummary } from "./lib/sidebar-summary";
import { queueFigures } from "./lib/retry-registry";

/** The parts of the runtime's RED this plugin uses (the published types lack plugins and comms). */
interface PluginRED {
  plugins: { registerPlugin(id: string, definition: Record<string, unknown>): void };
  comms?: { publish(topic: string, data: unknown, retain: boolean): void };
  nodes: {
    eachNode(cb: (def: Record<string, unknown>) => void): void;
    getNode(id: string): unknown;
  };
  httpAdmin: {
    get(path: string, ...handlers: Array<(req: Req, res: Res, next: () => void) => void>): void;
  };
  auth: { needsPermission(permission: string): (req: Req, res: Res, next: () => void) => void };
  log: { warn(msg: string): void };
}
interface Req {
  query: Record<string, unknown>;
}
interface Res {
  status(n: number): Res;
  json(body: unknown): void;
}

const PLUGIN_ID = "marketo-sidebar";
const UPDATE_TOPIC = "marketo-sidebar/update";
const PUBLISH_EVERY_MS = 1000;
const FEED_DEFAULT = 50;
const FEED_MAX = 200;

const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);

export = function (RED: PluginRED) {
  RED.plugins.registerPlugin(PLUGIN_ID, { type: "marketo-sidebar" });

  function summary(): SidebarSummary {
    const nodes = new Map<string, NodeSettings>();
    const configIds: string[] = [];
    RED.nodes.eachNode((def) => {
      const id = str(def.id);
      const type = str(def.type);
      if (!id || !type) return;
      nodes.set(id, { type, marketo: str(def.marketo), action: str(def.action), target: str(def.target) });
      if (type === "marketo-config") configIds.push(id);
    });
    const used = new Set<string>();
    for (const s of nodes.values()) if (s.marketo) used.add(s.marketo);

    const configs: ConfigView[] = [];
    for (const id of configIds) {
      const node = RED.nodes.getNode(id);
      // Listed in the flows but not running (a disabled flow): nothing to report of it.
      if (!isMarketoConfig(node)) continue;
      const view: ConfigView = { id, name: node.name || "", state: node.clientState(), ...(node.instance ? { instance: node.instance } : {}) };
      const problem = node.configError;
      if (problem) view.problem = { message: problem.message, category: problem.category };
      // Reading `client` makes one: only for a config some node uses (those made it already).
      else if (used.has(id)) view.usage = node.client?.usage();
      configs.push(view);
    }
    return buildSummary({ metrics, configs, nodes, queues: queueFigures() });
  }

  const read = RED.auth.needsPermission("marketo-sidebar.read");

  RED.httpAdmin.get("/marketo-sidebar/summary", read, (_req, res) => {
    try {
      res.json(summary());
    } catch (err) {
      res.status(500).json({ error: err instanceof Error ? err.message : String(err) });
    }
  });

  RED.httpAdmin.get("/marketo-sidebar/feed", read, (req, res) => {
    const raw = req.query.limit;
    let limit = FEED_DEFAULT;
    if (raw !== undefined && raw !== "") {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1 || n > FEED_MAX) {
        res.status(400).json({ error: `limit must be a whole number from 1 to ${FEED_MAX}`, category: "validation" });
        return;
      }
      limit = n;
    }
    res.json({ items: metrics.feed(limit) });
  });

  // --- live updates: at most one publish a second, the last change always included ------------
  const comms = RED.comms;
  if (!comms) return;
  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  const publish = (): void => {
    timer = undefined;
    last = Date.now();
    try {
      comms.publish(UPDATE_TOPIC, { summary: summary(), feed: metrics.feed(FEED_DEFAULT) }, false);
    } catch (err) {
      RED.log.warn(`marketo-sidebar: could not publish an update: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  metrics.onChange(() => {
    if (timer) return;
    timer = setTimeout(publish, Math.max(0, last + PUBLISH_EVERY_MS - Date.now()));
    // The runtime never unloads a plugin; the timer must not keep a stopping process alive.
    timer.unref();
  });
};
