/**
 * The Marketo sidebar's admin routes: the summary, the activity feed, the last hour's history
 * for the charts, and "Try now" during a quota pause.
 */
import { isMarketoConfig } from "./marketo-config-api";
import { errorText } from "./guards";
import type { PluginRED } from "./sidebar-figures";
import { metrics } from "../sidebar/metrics";
import type { History } from "../sidebar/sidebar-history";
import type { SidebarSummary } from "../sidebar/sidebar-summary";

export const FEED_DEFAULT = 50;
const FEED_MAX = 200;

export function registerSidebarRoutes(
  RED: PluginRED,
  sidebar: {
    summary(): SidebarSummary;
    history: History;
    /** A "Try now" probe went: the editors hear of it. */
    probing(): void;
  },
): void {
  const read = RED.auth.needsPermission("marketo-sidebar.read");

  RED.httpAdmin.get("/marketo-sidebar/summary", read, (_req, res) => {
    try {
      res.json(sidebar.summary());
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
    res.json(sidebar.history.view());
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
      sidebar.probing();
      res.json({ probing: true });
    },
  );
}
