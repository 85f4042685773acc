/**
 * The Marketo sidebar's runtime side: a Node-RED plugin whose admin routes answer the summary, the
 * activity feed, the last hour's history for the charts and a "Try now" during a quota pause, and
 * which pushes a fresh summary to open editors over RED.comms when the figures move (at most one
 * update a second). The editor side is nodes/marketo-sidebar.html; what the figures mean is
 * src/lib/sidebar/sidebar-summary.ts and src/lib/sidebar/sidebar-history.ts. The retry queue's own routes serve
 * the troubleshooting part.
 */
import { isMarketoConfig } from "./lib/node-kit/marketo-config-api";
import { metrics } from "./lib/sidebar/metrics";
import { buildSummary, type ConfigView, type NodeSettings, type SidebarSummary } from "./lib/sidebar/sidebar-summary";
import { queueFigures } from "./lib/delivery/retry-registry";
import { History, type HistorySample } from "./lib/sidebar/sidebar-history";
import { errorText } from "./lib/node-kit/guards";

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
    post(path: string, ...handlers: Array<(req: Req, res: Res, next: () => void) => void>): void;
  };
  auth: { needsPermission(permission: string): (req: Req, res: Res, next: () => void) => void };
  log: { warn(msg: string): void };
}
interface Req {
  query: Record<string, unknown>;
  params: Record<string, string>;
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
/** How often the charts' figures are read, and a quiet summary is checked for moved figures. */
const SAMPLE_EVERY_MS = 2000;

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
      const view: ConfigView = {
        id,
        name: node.name || "",
        state: node.clientState(),
        ...(node.instance ? { instance: node.instance } : {}),
      };
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
      res.status(500).json({ error: errorText(err) });
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

  RED.httpAdmin.get("/marketo-sidebar/history", read, (_req, res) => {
    res.json(history.view());
  });

  // "Try now" instead of Restart Flows: the call waiting out Marketo's daily quota goes as the probe.
  RED.httpAdmin.post(
    "/marketo-sidebar/config/:id/try-now",
    RED.auth.needsPermission("marketo-sidebar.write"),
    (req, res) => {
      const node = RED.nodes.getNode(req.params.id);
      if (!isMarketoConfig(node)) {
        res.status(404).json({ error: `no marketo-config ${req.params.id} is deployed`, category: "validation" });
        return;
      }
      const state = node.clientState();
      if (state.state !== "quota" || !node.client?.tryNow()) {
        const why =
          state.state === "quota"
            ? "the daily call budget set on this config is used up; it renews at 00:00 Chicago time (raise the budget to go on now)"
            : "no daily-quota pause is in force";
        res.status(409).json({ error: why, category: "quota" });
        return;
      }
      schedule();
      res.json({ probing: true });
    },
  );

  // --- the charts' history: sampled every few seconds, whatever the editor does ----------------
  const history = new History();
  const sample = (s: SidebarSummary): HistorySample => {
    const h: HistorySample = { records: 0, failed: 0, calls: 0, backlog: 0, retry: 0 };
    for (const c of s.configs) {
      h.records += c.records.processed;
      h.failed += c.records.failed;
      h.calls += c.calls.total;
      h.backlog += c.backlog;
    }
    for (const q of s.retry?.queues ?? []) h.retry += q.size;
    return h;
  };

  // --- live updates: at most one publish a second, the last change always included ------------
  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  /** The last published summary without its time: a sample that finds it unchanged sends nothing. */
  let lastSent = "";
  const publish = (): void => {
    timer = undefined;
    last = Date.now();
    try {
      const s = summary();
      lastSent = JSON.stringify({ ...s, at: "" });
      const points = history.view().points;
      RED.comms?.publish(
        UPDATE_TOPIC,
        { summary: s, feed: metrics.feed(FEED_DEFAULT), point: points[points.length - 1] },
        false,
      );
    } catch (err) {
      RED.log.warn(`marketo-sidebar: could not publish an update: ${errorText(err)}`);
    }
  };
  function schedule(): void {
    if (timer || !RED.comms) return;
    timer = setTimeout(publish, Math.max(0, last + PUBLISH_EVERY_MS - Date.now()));
    // The runtime never unloads a plugin; the timer must not keep a stopping process alive.
    timer.unref();
  }
  metrics.onChange(schedule);
  // A quota pause answers nothing, so no record moves the metrics; the backlog, the calls and the
  // client's state still change, and the sampler sends them.
  setInterval(() => {
    try {
      const s = summary();
      history.sample(sample(s));
      if (JSON.stringify({ ...s, at: "" }) !== lastSent) schedule();
    } catch (err) {
      RED.log.warn(`marketo-sidebar: could not read the figures: ${errorText(err)}`);
    }
  }, SAMPLE_EVERY_MS).unref();
};
