/**
 * `npx tsx bench/replay.ts`: live latency while a replay runs, on one client against the
 * emulator (both in this process, the emulator's window scaled down to 2 s so a run takes
 * seconds). Live records arrive steadily, one every LIVE_EVERY_MS; the run is done twice, alone and
 * with a 100,000-record replay (syncLead with `background`) submitted at the start, and prints
 * the live p50/p95/max latency of both and the replay's calls per window against the limit.
 */
import { startEmulator } from "../src/emulator";
import { MarketoClient } from "../src/lib/marketo";

const WINDOW_MS = 2000;
const CALLS_PER_WINDOW = 100;
const LIVE = 400;
const LIVE_EVERY_MS = 25;
const REPLAY = 100_000;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(
  withReplay: boolean,
): Promise<{ p50: number; p95: number; max: number; replayCalls: number; replayMs: number; windows: number }> {
  const emu = await startEmulator({
    limits: { callsPerWindow: CALLS_PER_WINDOW, windowMs: WINDOW_MS, concurrency: 10 },
    latencyMs: 40,
  });
  const client = new MarketoClient({
    endpoint: emu.url,
    clientId: emu.clientId,
    clientSecret: emu.clientSecret,
    callsPerWindow: CALLS_PER_WINDOW,
    windowMs: WINDOW_MS,
    concurrency: 10,
    batchWindowMs: 50,
    dailyBudget: 1_000_000,
  });
  try {
    const start = Date.now();
    let replayDone = 0;
    let replayEnd = 0;
    const replay: Array<Promise<unknown>> = [];
    if (withReplay) {
      for (let i = 0; i < REPLAY; i++) {
        // 2,000 distinct leads, as in the throughput bench: the emulator's lead scan stays cheap.
        replay.push(
          client
            .syncLead(
              { email: `replay${i % 2000}-${Math.floor(i / 300) % 2}@example.com`, firstName: `R${i}` },
              { background: true },
            )
            .then(() => {
              if (++replayDone === REPLAY) replayEnd = Date.now();
            }),
        );
      }
    }
    const latencies: number[] = [];
    const live: Array<Promise<unknown>> = [];
    for (let i = 0; i < LIVE; i++) {
      const at = Date.now();
      live.push(
        client
          .syncLead({ email: `live${i}@example.com`, firstName: `L${i}` })
          .then(() => latencies.push(Date.now() - at)),
      );
      await new Promise((r) => setTimeout(r, LIVE_EVERY_MS));
    }
    await Promise.all(live);
    const callsAtLiveEnd = emu.stats().countedCalls;
    await Promise.all(replay);
    const replayMs = withReplay ? replayEnd - start : 0;
    const sorted = latencies.sort((a, b) => a - b);
    return {
      p50: pct(sorted, 50),
      p95: pct(sorted, 95),
      max: sorted[sorted.length - 1],
      replayCalls: withReplay ? emu.stats().countedCalls - callsAtLiveEnd : 0,
      replayMs,
      windows: replayMs / WINDOW_MS,
    };
  } finally {
    await client.close();
    await emu.stop();
  }
}

async function main(): Promise<void> {
  const alone = await run(false);
  const during = await run(true);
  const totalReplayCalls = Math.ceil(REPLAY / 300);
  console.log(
    `live records: ${LIVE}, one every ${LIVE_EVERY_MS} ms; window ${CALLS_PER_WINDOW} calls / ${WINDOW_MS} ms`,
  );
  console.log(`live latency alone:          p50 ${alone.p50} ms, p95 ${alone.p95} ms, max ${alone.max} ms`);
  console.log(`live latency during replay:  p50 ${during.p50} ms, p95 ${during.p95} ms, max ${during.max} ms`);
  console.log(
    `replay: ${REPLAY} records in ${(during.replayMs / 1000).toFixed(1)} s (${during.windows.toFixed(1)} windows); ` +
      `about ${totalReplayCalls} calls, ${((totalReplayCalls / during.windows / CALLS_PER_WINDOW) * 100).toFixed(0)} % of the window limit on average`,
  );
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
