/**
 * retry-queue: holds the messages the action nodes could not deliver, resubmits the retryable
 * ones with backoff (the quota ones after Marketo's day turns over), holds the permanent ones
 * for a person, and keeps all of it in a journal under the user directory, or in Redis when
 * replicas share it.
 *
 * Glue only: the queue in this process is src/lib/node-kit/retry-queue-local.ts, the one in Redis
 * retry-queue-shared.ts beside it, the admin routes retry-queue-routes.ts; settings and triage are
 * src/lib/delivery/retry-queue-triage.ts.
 */
import type { Node, NodeAPI, NodeDef } from "node-red";
import type { MarketoConfigNode } from "./lib/node-kit/marketo-config-api";
import { queueSettings, type RetryQueueSettings } from "./lib/delivery/retry-queue-triage";
import { LocalRetryQueue } from "./lib/node-kit/retry-queue-local";
import { SharedRetryQueue } from "./lib/node-kit/retry-queue-shared";
import { registerRetryQueueRoutes, type DeployedQueue } from "./lib/node-kit/retry-queue-routes";

/** Replicas with identical flows name their Redis here; the same setting marketo-config reads. */
const REDIS_URL_ENV = "MARKETO_REDIS_URL";

export = function (RED: NodeAPI) {
  const deployed = new Map<string, DeployedQueue>();

  function RetryQueueNode(this: Node, def: NodeDef & RetryQueueSettings & { marketo?: string }) {
    RED.nodes.createNode(this, def);
    const node = this;
    const t = (key: string, sub?: Record<string, string | number>): string => RED._(`retry-queue.${key}`, sub);
    // A bad setting falls back to its default, said once; messages are held anyway.
    const { options, throughNode, problems } = queueSettings(def);
    for (const p of problems) node.error(t("errors.setting", { problem: p }));

    // A marketo-config's Redis URL (its credential, else the environment) selects Redis mode from
    // the editor; flows without one read the environment.
    const config = def.marketo ? (RED.nodes.getNode(def.marketo) as MarketoConfigNode | null) : null;
    const envRedis = RED.util.getSetting(node, REDIS_URL_ENV);
    const redisUrl = config
      ? config.redisUrl
      : typeof envRedis === "string" && envRedis.trim()
        ? envRedis.trim()
        : undefined;
    const name = def.name ?? "";
    const z = (def as { z?: string }).z;
    const queue = redisUrl
      ? new SharedRetryQueue(RED, node, name, z, redisUrl, options, throughNode, t)
      : new LocalRetryQueue(RED, node, name, z, options, throughNode, t);
    const self = queue.deployed;
    deployed.set(node.id, self);
    node.on("close", (_removed: boolean, done: () => void) => {
      if (deployed.get(node.id) === self) deployed.delete(node.id);
      queue.close(done);
    });
  }

  RED.nodes.registerType("retry-queue", RetryQueueNode);
  registerRetryQueueRoutes(RED, deployed);
};
