/**
 * marketo-config: one Marketo instance. Owns the one MarketoClient (token, limiter, batches)
 * every node of that instance shares, the lead ids they learn, and the "Test connection"
 * admin route. Shaped after core MQTT's broker node: users register, get status fan-out, and
 * the client is closed when the config node closes. Glue only: the settings are
 * lib/node-kit/marketo-config-options.ts, the shared client lib/node-kit/shared-client.ts, the
 * route lib/node-kit/marketo-config-test-route.ts.
 */
import type { Node, NodeAPI, NodeDef } from "node-red";
import { LeadIdCache } from "./lib/actions/lead-ids";
import type { Logger } from "./lib/marketo";
import type { MarketoConfigNode } from "./lib/node-kit/marketo-config-api";
import { offerConfigApi } from "./lib/node-kit/marketo-config-node";
import { configOptions, type MarketoConfigDef } from "./lib/node-kit/marketo-config-options";
import { str, type Credentials } from "./lib/node-kit/marketo-credentials";
import { registerTestConnectionRoute } from "./lib/node-kit/marketo-config-test-route";
import { SharedClient } from "./lib/node-kit/shared-client";
import { metrics } from "./lib/sidebar/metrics";
import { errorText } from "./lib/node-kit/guards";

/** Replicas with identical flows name their Redis here, with no edit to the flow. */
const REDIS_URL_ENV = "MARKETO_REDIS_URL";

export = function (RED: NodeAPI) {
  function MarketoConfigNode(this: MarketoConfigNode & { credentials: Credentials }, def: MarketoConfigDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const leadIds = new LeadIdCache();
    const logger: Logger = {
      debug: (m) => node.debug(m),
      info: (m) => node.log(m),
      warn: (m) => node.warn(m),
      error: (m) => node.error(m),
    };

    // The Redis every node of this config shares its state through: the credential, else the environment.
    const envRedis = RED.util.getSetting(node, REDIS_URL_ENV);
    const redisUrl = str(node.credentials?.redisUrl) ?? (typeof envRedis === "string" ? str(envRedis) : undefined);
    const { options, configError, configStatus } = configOptions(
      RED,
      node,
      def,
      node.credentials ?? {},
      redisUrl,
      logger,
    );
    if (configError) node.error(`marketo-config ${def.name || node.id}: ${configError.message}`);
    const shared = new SharedClient(node, def.name || node.id, options, configError);

    offerConfigApi(node, { shared, options, configError, configStatus, redisUrl, leadIds });

    node.on("close", (removed: boolean, done: () => void) => {
      if (removed) metrics.forget(node.id);
      leadIds.clear();
      const closed = shared.close();
      if (!closed) {
        done();
        return;
      }
      closed.then(done, (err: unknown) => {
        node.error(`marketo-config close: ${errorText(err)}`);
        done();
      });
    });
  }

  // Node-RED encrypts flows_cred.json unless settings.js sets credentialSecret to false: the
  // dialog says "encrypted" only when that is so.
  const credentialSecret = (RED.settings as unknown as { credentialSecret?: unknown }).credentialSecret;
  RED.nodes.registerType(
    "marketo-config",
    MarketoConfigNode as unknown as (this: Node, def: NodeDef) => void,
    {
      credentials: {
        clientId: { type: "text" },
        clientSecret: { type: "password" },
        redisUrl: { type: "password" },
      },
      settings: {
        marketoConfigCredentialsEncrypted: { value: credentialSecret !== false, exportable: true },
      },
    } as never,
  );

  registerTestConnectionRoute(RED);
};
