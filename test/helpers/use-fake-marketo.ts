/**
 * The shared setup of the client tests: a fresh FakeMarketo for every test, and clients against
 * it that are closed after the test (so no timer or socket outlives it).
 */
import { MarketoClient, type MarketoClientOptions } from "../../nodes/lib/marketo";
import { FakeMarketo } from "./fake-marketo";

export interface FakeMarketoDefaults extends Partial<MarketoClientOptions> {
  /** Appended to the fake's origin to form the client's `endpoint` (e.g. "/rest/"). */
  endpointPath?: string;
}

export interface FakeMarketoSetup {
  /** The fake of the running test. */
  fake(): FakeMarketo;
  /** A client against the fake: this suite's defaults, then `opts`. */
  client(opts?: Partial<MarketoClientOptions>): MarketoClient;
}

/**
 * Registers beforeEach/afterEach hooks on the calling `describe` that start and stop the fake
 * and close every client made through the returned `client()`.
 */
export function useFakeMarketo(defaults: FakeMarketoDefaults = {}): FakeMarketoSetup {
  const { endpointPath = "", ...clientDefaults } = defaults;
  let current: FakeMarketo | undefined;
  const clients: MarketoClient[] = [];

  function fake(): FakeMarketo {
    if (!current) throw new Error("the fake Marketo only runs inside a test");
    return current;
  }

  function client(opts: Partial<MarketoClientOptions> = {}): MarketoClient {
    const c = new MarketoClient({
      endpoint: `${fake().url}${endpointPath}`,
      clientId: "cid",
      clientSecret: "secret",
      callsPerWindow: 1000,
      windowMs: 1000,
      ...clientDefaults,
      ...opts,
    });
    clients.push(c);
    return c;
  }

  beforeEach(async () => {
    current = await new FakeMarketo().start();
  });
  afterEach(async () => {
    while (clients.length) await clients.pop()!.close();
    await current?.stop();
    current = undefined;
  });

  return { fake, client };
}
