/**
 * How a mapping row's env and JSONata sources resolve in Node-RED: through the runtime's own
 * helpers, so they read env vars as the node's flow / group would.
 */
import type { Node, NodeAPI } from "node-red";
import type { SourceHooks } from "../flow/field-mapping-rows";

/** How env vars and JSONata resolve for `node` (null: as for a node that is not deployed). */
export function hooksFor(RED: NodeAPI, node: Node | null): SourceHooks {
  return {
    env: (name) => RED.util.getSetting(node as Node, name),
    jsonata: (expression) => {
      const prepared = RED.util.prepareJSONataExpression(expression, node as Node);
      return (msg) =>
        new Promise((resolve, reject) => {
          try {
            RED.util.evaluateJSONataExpression(prepared, msg as Record<string, unknown>, (err, value) =>
              err ? reject(err) : resolve(value),
            );
          } catch (err) {
            reject(err);
          }
        });
    },
  };
}
