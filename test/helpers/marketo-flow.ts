/**
 * Shared pieces for helper tests of the Marketo nodes: an emulator per test, the
 * marketo-config node pointing at it, and small waiting/collecting utilities.
 */
import helper = require("node-red-node-test-helper");
import { startEmulator, type EmulatorHandle, type EmulatorOptions } from "../../src/emulator";

export type Msg = Record<string, any>;

export const CONFIG_ID = "cfg";

/** An emulator on 127.0.0.1 with production limits unless `options` says otherwise. */
export function emulator(options: EmulatorOptions = {}): Promise<EmulatorHandle> {
  return startEmulator(options);
}

/** The marketo-config node of a test flow (a short batch window keeps tests quick). */
export interface FlowNode {
  id: string;
  type: string;
  [key: string]: unknown;
}

export function configNode(emu: EmulatorHandle, extra: Record<string, unknown> = {}): FlowNode {
  return {
    id: CONFIG_ID,
    type: "marketo-config",
    name: "emulator",
    endpoint: emu.url,
    credentialSource: "credentials",
    clientIdEnv: "",
    clientSecretEnv: "",
    callsPerWindow: 100,
    concurrency: 10,
    dailyBudget: 50000,
    batchWindowMs: 50,
    ...extra,
  };
}

/** Credentials for helper.load, keyed by the config node's id. */
export function credentials(
  emu: EmulatorHandle,
  secret = emu.clientSecret,
  clientId = emu.clientId,
): Record<string, Record<string, string>> {
  return { [CONFIG_ID]: { clientId, clientSecret: secret } };
}

/** Messages arriving at helper nodes, by node id. */
export function collect<K extends string>(ids: readonly K[]): Record<K, Msg[]> {
  const got = {} as Record<K, Msg[]>;
  for (const id of ids) {
    got[id] = [];
    helper.getNode(id).on("input", (m: Msg) => got[id].push(m));
  }
  return got;
}

export { until, sleep } from "./until";

/**
 * Registers an afterEach on the calling describe: the test's flow unloaded, then the emulator the
 * suite's variable holds (`current()`) stopped. An emulator's stop() is idempotent, so one a test
 * left from an earlier test is not stopped twice.
 */
export function unloadAfterEach(current: () => EmulatorHandle | undefined): void {
  afterEach(async () => {
    await helper.unload();
    await current()?.stop();
  });
}

/** The helper's node with its sinon spies, which @types/node-red does not describe. */
export interface SpiedNode {
  id: string;
  error: { calledWithMatch: (...args: unknown[]) => boolean; args: unknown[][] };
  warn: { calledWithMatch: (...args: unknown[]) => boolean; args: unknown[][] };
  status: {
    calledWithMatch: (...args: unknown[]) => boolean;
    lastCall?: { args: Array<{ fill?: string; shape?: string; text?: string }> };
    args: Array<Array<{ fill?: string; shape?: string; text?: string }>>;
  };
  on(event: string, cb: (...args: any[]) => void): void;
  receive(msg: Msg): void;
  close?(removed?: boolean): Promise<void>;
}
export const spied = (id: string): SpiedNode => helper.getNode(id) as unknown as SpiedNode;

/** The last status text a node showed. */
export function lastStatus(id: string): { fill?: string; shape?: string; text?: string } | undefined {
  return spied(id).status.lastCall?.args[0];
}
