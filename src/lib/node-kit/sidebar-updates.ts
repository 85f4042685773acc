/**
 * The Marketo sidebar's live side: samples the figures for the charts every few seconds, whatever
 * the editor does, and pushes a fresh summary to open editors over RED.comms at most once a
 * second, the last change always included.
 */
import { errorText } from "./guards";
import type { PluginRED } from "./sidebar-figures";
import { FEED_DEFAULT } from "./sidebar-routes";
import { metrics } from "../sidebar/metrics";
import type { History, HistorySample } from "../sidebar/sidebar-history";
import type { SidebarSummary } from "../sidebar/sidebar-summary";

const UPDATE_TOPIC = "marketo-sidebar/update";
const PUBLISH_EVERY_MS = 1000;
/** How often the charts' figures are read, and a quiet summary is checked for moved figures. */
const SAMPLE_EVERY_MS = 2000;

/** The charts' point for one summary: the totals over every config and retry queue. */
function historySample(s: SidebarSummary): HistorySample {
  const h: HistorySample = { records: 0, failed: 0, calls: 0, backlog: 0, retry: 0 };
  for (const c of s.configs) {
    h.records += c.records.processed;
    h.failed += c.records.failed;
    h.calls += c.calls.total;
    h.backlog += c.backlog;
  }
  for (const q of s.retry?.queues ?? []) h.retry += q.size;
  return h;
}

export class SidebarUpdates {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  /** The last published summary without its time: a sample that finds it unchanged sends nothing. */
  private lastSent = "";

  constructor(
    private readonly RED: PluginRED,
    private readonly summary: () => SidebarSummary,
    private readonly history: History,
  ) {}

  /** Publishes soon: at once when the last publish is a second old, else when it will be. */
  schedule(): void {
    if (this.timer || !this.RED.comms) return;
    this.timer = setTimeout(() => this.publish(), Math.max(0, this.last + PUBLISH_EVERY_MS - Date.now()));
    // The runtime never unloads a plugin; the timer must not keep a stopping process alive.
    this.timer.unref();
  }

  /**
   * Starts the sampler. A quota pause answers nothing, so no record moves the metrics; the
   * backlog, the calls and the client's state still change, and the sampler sends them.
   */
  startSampling(): void {
    setInterval(() => {
      try {
        const s = this.summary();
        this.history.sample(historySample(s));
        if (JSON.stringify({ ...s, at: "" }) !== this.lastSent) this.schedule();
      } catch (err) {
        this.RED.log.warn(`marketo-sidebar: could not read the figures: ${errorText(err)}`);
      }
    }, SAMPLE_EVERY_MS).unref();
  }

  private publish(): void {
    this.timer = undefined;
    this.last = Date.now();
    try {
      const s = this.summary();
      this.lastSent = JSON.stringify({ ...s, at: "" });
      const points = this.history.view().points;
      this.RED.comms?.publish(
        UPDATE_TOPIC,
        { summary: s, feed: metrics.feed(FEED_DEFAULT), point: points[points.length - 1] },
        false,
      );
    } catch (err) {
      this.RED.log.warn(`marketo-sidebar: could not publish an update: ${errorText(err)}`);
    }
  }
}
