/**
 * The benchmark's two kinds of child process: the emulator (its own event loop and RSS, read
 * only through its inspection API) and a Node-RED runtime per scenario (bench/worker.js). Every
 * child is tracked so Ctrl-C, an error or the end of the run stops it.
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { StatsJson } from "../src/emulator";

const ROOT = path.resolve(__dirname, "..");
const children = new Set<ChildProcess>();

/** Stops every child still running (SIGTERM, then SIGKILL after 3 s). */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const kill = setTimeout(() => c.kill("SIGKILL"), 3000);
          c.once("exit", () => {
            clearTimeout(kill);
            resolve();
          });
          c.kill("SIGTERM");
        }),
    ),
  );
}

function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.once("exit", () => children.delete(c));
  return c;
}

export interface EmulatorFlags {
  latencyMs: number;
  windowMs: number;
  importDelayMs: number;
}

export class EmulatorProcess {
  private constructor(
    readonly url: string,
    readonly child: ChildProcess,
  ) {}

  /** nodes/emulator/cli.js on 127.0.0.1, a free port, production limits but for the scaled window. */
  static async start(flags: EmulatorFlags, logFile: string): Promise<EmulatorProcess> {
    const args = [
      path.join(ROOT, "nodes", "emulator", "cli.js"),
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--quiet",
      "--window-ms",
      String(flags.windowMs),
      "--latency-ms",
      String(flags.latencyMs),
      "--import-delay-ms",
      String(flags.importDelayMs),
    ];
    const child = track(spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] }));
    const log = fs.createWriteStream(logFile);
    child.stderr!.pipe(log);
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error("the emulator did not start within 15 s")), 15_000);
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the emulator exited with ${code}: ${out}`));
      });
    });
    // Its banner names the emulator's client secret: keep stdout out of the terminal and the log.
    child.stdout!.resume();
    return new EmulatorProcess(url, child);
  }

  private async call<T>(method: string, route: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/_emulator/${route}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`emulator ${method} /_emulator/${route}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  stats(): Promise<StatsJson> {
    return this.call("GET", "stats");
  }
  state(): Promise<Record<string, unknown>> {
    return this.call("GET", "state");
  }
  reset(): Promise<unknown> {
    return this.call("POST", "reset");
  }
  pause(): Promise<{ paused: boolean; held: number }> {
    return this.call("POST", "pause");
  }
  resume(): Promise<{ paused: boolean; released: number }> {
    return this.call("POST", "resume");
  }
  limits(): Promise<Record<string, number>> {
    return this.call("GET", "limits");
  }
}

/** One Node-RED runtime in its own process, driven by commands (bench/worker.js). */
export class Worker {
  private next = 1;
  private pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited: Error | undefined;

  private constructor(readonly child: ChildProcess) {
    child.on("message", (m: { id?: number; ok?: boolean; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`worker: ${m.error}`));
    });
    child.once("exit", (code, signal) => {
      this.exited = new Error(`the Node-RED worker exited (${signal ?? code})`);
      for (const p of this.pending.values()) p.reject(this.exited);
      this.pending.clear();
    });
  }

  static async start(env: Record<string, string>, logFile: string): Promise<Worker> {
    const child = track(
      fork(path.join(__dirname, "worker.js"), [], {
        // --expose-gc: the "after drain" figure is also taken after a full collection.
        execArgv: ["--expose-gc", ...(process.env.BENCH_WORKER_FLAGS ?? "").split(" ").filter(Boolean)],
        env: { ...process.env, ...env, NODE_OPTIONS: "" },
        stdio: ["ignore", "pipe", "pipe", "ipc"],
      }),
    );
    const log = fs.createWriteStream(logFile);
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }) => {
        if (m.ready) {
          child.off("message", onMessage);
          resolve();
        }
      };
      child.on("message", onMessage);
      child.once("exit", (code) =>
        reject(new Error(`the Node-RED worker exited with ${code} before it was ready (see ${logFile})`)),
      );
    });
    return new Worker(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  cmd<T = unknown>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, cmd, args });
    });
  }

  /** RED.stop(), then the process ends; killed if it does not within 20 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    try {
      await Promise.race([this.cmd("stop"), new Promise((r) => setTimeout(r, 20_000))]);
    } catch {
      /* it may already be gone */
    }
    this.child.disconnect?.();
    const kill = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(kill);
  }
}

/** VmRSS / VmHWM of a process, read from outside (Linux); undefined elsewhere. */
export function procMemory(pid: number): { rss?: number; peakRss?: number } {
  try {
    const out: { rss?: number; peakRss?: number } = {};
    for (const line of fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
      const m = /^(VmRSS|VmHWM):\s+(\d+) kB/.exec(line);
      if (m) out[m[1] === "VmRSS" ? "rss" : "peakRss"] = Number(m[2]) * 1024;
    }
    return out;
  } catch {
    return {};
  }
}

/** CPU time a process has used so far, in ms (Linux /proc; undefined elsewhere). */
export function procCpuMs(pid: number): number | undefined {
  try {
    // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;
