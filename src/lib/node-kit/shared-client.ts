/**
 * The one MarketoClient a marketo-config's nodes share: made on first use, its state and usage
 * told to every node registered with the config (as core MQTT's broker node tells its users),
 * and closed with the config.
 */
import type { Node } from "node-red";
import { MarketoClient, MarketoError, type MarketoClientOptions, type StateEvent } from "../marketo";
import { metrics } from "../sidebar/metrics";
import type { ConfigUser } from "./marketo-config-api";
import { asMarketoError } from "./marketo-config-options";

export class SharedClient {
  private client: MarketoClient | undefined;
  private closing = false;
  private readonly users = new Map<string, ConfigUser>();

  constructor(
    private readonly node: Node,
    /** The config's name for its warnings (its name, else its id). */
    private readonly label: string,
    private readonly options: MarketoClientOptions | undefined,
    private readonly configError: MarketoError | undefined,
  ) {}

  /** The client, made on first use; throws the config's problem, or CLIENT_CLOSED once it closes. */
  get(): MarketoClient {
    if (this.configError || !this.options)
      throw this.configError ?? asMarketoError(new Error("marketo-config is not usable"));
    if (this.closing)
      throw new MarketoError({
        code: "CLIENT_CLOSED",
        message: "marketo-config is closing (redeploy or shutdown)",
        category: "network",
        action: "retry",
        retryable: true,
      });
    if (!this.client) {
      const client = new MarketoClient(this.options);
      client.on("state", (s: StateEvent) => {
        metrics.connection(this.node.id, s.state, s.reason);
        if (s.state === "auth-failed")
          this.node.warn(`Marketo refused the credentials of ${this.label}: ${s.reason ?? ""}`);
        this.fanOut();
      });
      client.on("usage", () => this.fanOut());
      this.client = client;
    }
    return this.client;
  }

  /** The client's state; "ok" before the client exists. */
  state(): StateEvent {
    return this.client ? this.client.state() : { state: "ok" };
  }

  register(u: ConfigUser): void {
    this.users.set(u.id, u);
  }

  deregister(u: ConfigUser): void {
    if (this.users.get(u.id) === u) this.users.delete(u.id);
  }

  /**
   * Refuses new calls and forgets the users. The client, if one was made, sends what is held and
   * waits (bounded) for calls in flight, so the records of a redeploy reach Marketo; what cannot is
   * failed as retryable, never dropped silently. Undefined when no client was made: nothing to wait for.
   */
  close(): Promise<void> | undefined {
    this.closing = true;
    const c = this.client;
    this.client = undefined;
    this.users.clear();
    return c?.close();
  }

  private fanOut(): void {
    for (const u of this.users.values()) u.clientChanged();
  }
}
