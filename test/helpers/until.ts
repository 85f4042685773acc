/**
 * Waits for a condition instead of a fixed time, so a test holds on a loaded machine: it goes on
 * as soon as the event has happened, and fails with what it waited for after `ms`.
 *
 * `everyMs` is how often the condition is asked: a suite whose emulator runs in the test process
 * and whose condition reads a large state asks less often, so that the emulator keeps the CPU.
 */
export async function until(cond: () => boolean, what: string, ms = 10_000, everyMs = 5): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Reads a value (an admin API answer, say) until `ok` accepts it, and returns it; fails after `ms`
 * with the last value read, so the failure shows how far it got.
 */
export async function untilValue<T>(
  what: string,
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  ms = 30_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v)}`);
    await sleep(everyMs);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
