/**
 * Live latency while a replay runs, on one client against the emulator (both in this process, the
 * emulator's window scaled down to 2 s so a run takes seconds). Live records arrive steadily, one
 * every LIVE_EVERY_MS; the run is done twice, alone and with a 100,000-record replay (syncLead
 * with `background`) submitted at the start: the live p50/p95/max latency of both and the
 * replay's calls per window against the limit. Part "replay" of `npm run bench` (bench/run.ts);
 * `npm run bench:replay` (`npx tsx bench/replay.ts`) runs it alone and prints it.
 */
import { startEmulator } from "../src/emulator";
import { MarketoClient } from "../src/lib/marketo";

const WINDOW_MS = 2000;
const CALLS_PER_WINDOW = 100;
const LIVE = 400;
const LIVE_EVERY_MS = 25;
const REPLAY = 100_000;

export interface LiveLatency {
  p50: number;
  p95: number;
  max: number;
}

export interface ReplayBenchResult {
  live: { records: number; everyMs: number };
  window: { calls: number; ms: number };
  alone: LiveLatency;
  during: LiveLatency;
  replay: { records: number; seconds: number; windows: number; calls: number; fractionOfLimit: number };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(
  withReplay: boolean,
  replayRecords: number,
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
      for (let i = 0; i < replayRecords; i++) {
        // 2,000 distinct leads, as in the throughput bench: the emulator's lead scan stays cheap.
        replay.push(
          client
            .syncLead(
              { email: `replay${i % 2000}-${Math.floor(i / 300) % 2}@example.com`, firstName: `R${i}` },
              { background: true },
            )
            .then(() => {
              if (++replayDone === replayRecords) replayEnd = Date.now();
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

/** Both runs; `replayRecords` smaller for a smoke run. */
export async function replayBench(replayRecords = REPLAY): Promise<ReplayBenchResult> {
  const alone = await run(false, replayRecords);
  const during = await run(true, replayRecords);
  const calls = Math.ceil(replayRecords / 300);
  return {
    live: { records: LIVE, everyMs: LIVE_EVERY_MS },
    window: { calls: CALLS_PER_WINDOW, ms: WINDOW_MS },
    alone: { p50: alone.p50, p95: alone.p95, max: alone.max },
    during: { p50: during.p50, p95: during.p95, max: during.max },
    replay: {
      records: replayRecords,
      seconds: during.replayMs / 1000,
      windows: during.windows,
      calls,
      fractionOfLimit: calls / during.windows / CALLS_PER_WINDOW,
    },
  };
}

async function main(): Promise<void> {
  const r = await replayBench();
  console.log(
    `live records: ${r.live.records}, one every ${r.live.everyMs} ms; window ${r.window.calls} calls / ${r.window.ms} ms`,
  );
  console.log(`live latency alone:          p50 ${r.alone.p50} ms, p95 ${r.alone.p95} ms, max ${r.alone.max} ms`);
  console.log(`live latency during replay:  p50 ${r.during.p50} ms, p95 ${r.during.p95} ms, max ${r.during.max} ms`);
  console.log(
    `replay: ${r.replay.records} records in ${r.replay.seconds.toFixed(1)} s (${r.replay.windows.toFixed(1)} windows); ` +
      `about ${r.replay.calls} calls, ${(r.replay.fractionOfLimit * 100).toFixed(0)} % of the window limit on average`,
  );
}

if (require.main === module) {
  void main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
