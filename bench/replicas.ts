/**
 * The three-replica figure: three Node-RED processes with the same flow (marketo-lead, Sync
 * Leads only) on one Redis (MARKETO_REDIS_URL) and one emulator, the throughput run's records
 * split between them and fed at once. What they reach together, against the 1,500 records/s
 * Marketo's window allows one subscription, and that they provoke no 606/615 doing it.
 */
import path from "node:path";
import type { StatsJson } from "../src/emulator";
import { redisServerPath, startRedis } from "../test/helpers/redis-server";
import type { TimeScale } from "./flows/common";
import { leadFlow } from "./flows/marketo";
import type { EmulatorProcess } from "./processes";
import { Worker } from "./processes";

export const REPLICAS = 3;

export interface ReplicaRun {
  emu: EmulatorProcess;
  scale: TimeScale;
  runDir: string;
  /** Records in all, split evenly between the replicas. */
  records: number;
  cycle?: number;
  /** Environment every worker gets (the emulator's credentials). */
  env: Record<string, string>;
}

export interface ReplicaResult {
  records: number;
  ok: number;
  failed: number;
  failures: Record<string, number>;
  seconds: number;
  scaledRecordsPerSec: { overall: number; steady10to90: number };
  perReplicaRecords: number[];
  emulator: { apiCalls: number; answers606: number; answers615: number; maxCallsInWindow: number; maxInFlight: number };
}

type Answers = { sinks: Record<string, { count: number; codes: Record<string, number> }>; now: number };

/** Runs the scenario; throws when redis-server is not installed (the table then says so). */
export async function threeReplicas(run: ReplicaRun): Promise<ReplicaResult> {
  const bin = redisServerPath();
  if (!bin) throw new Error("redis-server is not installed (apt-get install redis-server)");
  const redis = await startRedis(bin);
  const workers: Worker[] = [];
  try {
    await run.emu.reset();
    const flow = leadFlow(run.emu.url, run.scale, { bulkThreshold: 0 });
    for (let r = 0; r < REPLICAS; r++) {
      const w = await Worker.start(
        { ...run.env, MARKETO_REDIS_URL: redis.url },
        path.join(run.runDir, `replica-${r}.log`),
      );
      workers.push(w);
      await w.cmd("start", {
        userDir: path.join(run.runDir, `userdir-replica-${r}`),
        flows: flow.nodes,
        sinkOptions: flow.sinks,
      });
    }
    // Each worker's clock (performance.now) against this process's, to merge answer times.
    const offsets: number[] = [];
    for (const w of workers) {
      const before = Date.now();
      const theirs = await w.cmd<number>("now");
      offsets.push((before + Date.now()) / 2 - theirs);
    }
    const share = Math.floor(run.records / REPLICAS);
    const counts = workers.map((_, r) => (r === REPLICAS - 1 ? run.records - share * (REPLICAS - 1) : share));
    const ids = ["lead-ok", "lead-failed"];
    const t0 = Date.now();
    await Promise.all(
      workers.map((w, r) =>
        w.cmd("feed", {
          target: "n-lead",
          kind: "lead",
          from: r * share,
          count: counts[r],
          chunk: 1000,
          ...(run.cycle ? { cycle: run.cycle } : {}),
        }),
      ),
    );
    const done = await Promise.all(
      workers.map((w, r) => w.cmd<Answers>("wait", { ids, target: counts[r], timeoutMs: 900_000 })),
    );
    const times: number[] = [];
    for (let r = 0; r < REPLICAS; r++) {
      for (const t of await workers[r].cmd<number[]>("times", { ids })) times.push(t + offsets[r]);
    }
    times.sort((a, b) => a - b);
    const at = (f: number): number => times[Math.min(times.length - 1, Math.max(0, Math.ceil(f * times.length) - 1))];
    const tLast = at(1);
    const stats = (await run.emu.stats()) as StatsJson;
    const ok = done.reduce((n, d) => n + d.sinks["lead-ok"].count, 0);
    const failed = done.reduce((n, d) => n + d.sinks["lead-failed"].count, 0);
    const failures: Record<string, number> = {};
    for (const d of done)
      for (const [k, v] of Object.entries(d.sinks["lead-failed"].codes)) failures[k] = (failures[k] ?? 0) + v;
    return {
      records: run.records,
      ok,
      failed,
      failures,
      seconds: (tLast - t0) / 1000,
      scaledRecordsPerSec: {
        overall: (run.records * 1000) / (tLast - t0),
        steady10to90: (0.8 * run.records * 1000) / (at(0.9) - at(0.1)),
      },
      perReplicaRecords: counts,
      emulator: {
        apiCalls: Object.values(stats.callsByRoute).reduce((a, b) => a + b, 0),
        answers606: stats.answersByCode["606"] ?? 0,
        answers615: stats.answersByCode["615"] ?? 0,
        maxCallsInWindow: stats.maxCallsInWindow,
        maxInFlight: stats.maxInFlight,
      },
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await redis.stop();
  }
}
