/**
 * Waits for a condition instead of a fixed time, so a test holds on a loaded machine: it goes on
 * as soon as the event has happened, and fails with what it waited for after `ms`.
 */
export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
