/**
 * The Marketo sidebar's runtime side: a Node-RED plugin whose admin routes answer the summary, the
 * activity feed, the last hour's history for the charts and a "Try now" during a quota pause, and
 * which pushes a fresh summary to open editors over RED.comms when the figures move (at most one
 * update a second). The editor side is nodes/marketo-sidebar.html; what the figures mean is
 * src/lib/sidebar/sidebar-summary.ts and src/lib/sidebar/sidebar-history.ts; the routes, the
 * figures read from the flows and the live updates are src/lib/node-kit/sidebar-*.ts. The retry
 * queue's own routes serve the troubleshooting part.
 */
import { metrics } from "./lib/sidebar/metrics";
import { History } from "./lib/sidebar/sidebar-history";
import { readSidebarSummary, type PluginRED } from "./lib/node-kit/sidebar-figures";
import { registerSidebarRoutes } from "./lib/node-kit/sidebar-routes";
import { SidebarUpdates } from "./lib/node-kit/sidebar-updates";

const PLUGIN_ID = "marketo-sidebar";

export = function (RED: PluginRED) {
  RED.plugins.registerPlugin(PLUGIN_ID, { type: "marketo-sidebar" });
  const summary = () => readSidebarSummary(RED);
  const history = new History();
  const updates = new SidebarUpdates(RED, summary, history);
  registerSidebarRoutes(RED, { summary, history, probing: () => updates.schedule() });
  metrics.onChange(() => updates.schedule());
  updates.startSampling();
};
