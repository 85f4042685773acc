/**
 * What a process-level suite starts (a redis-server, emulators, real Node-RED processes, scratch
 * folders) kept in one place and stopped together: every Node-RED first, so none is left calling
 * an emulator or a Redis that went away, then the emulators, then Redis, then the folders.
 *
 *   const rig = new ProcessRig();
 *   before(async function () { redis = await rig.redis(this); emu = await rig.emulator({}); });
 *   after(() => rig.stop());
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startEmulator, type EmulatorHandle, type EmulatorOptions } from "../../src/emulator";
import { startNodeRed, type NodeRedProcess, type StartOptions } from "./node-red-process";
import { requireRedis, startRedis, type RedisServer } from "./redis-server";

export class ProcessRig {
  /** Every Node-RED started through the rig, in order: the replicas of the suite. */
  readonly reds: NodeRedProcess[] = [];
  private readonly emulators: EmulatorHandle[] = [];
  private readonly redisServers: RedisServer[] = [];
  private readonly dirs: string[] = [];

  /** A redis-server on a free port; skips the suite when there is none (fails under CI). */
  async redis(ctx: { skip(): void }, extraArgs: string[] = []): Promise<RedisServer> {
    const server = await startRedis(requireRedis(ctx), extraArgs);
    this.redisServers.push(server);
    return server;
  }

  async emulator(options: EmulatorOptions = {}): Promise<EmulatorHandle> {
    const emu = await startEmulator(options);
    this.emulators.push(emu);
    return emu;
  }

  /** A scratch folder under the system's temp folder, removed by stop(). */
  tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** One Node-RED process, stopped by stop(). */
  async nodeRed(options: StartOptions): Promise<NodeRedProcess> {
    const red = await startNodeRed(options);
    this.reds.push(red);
    return red;
  }

  /**
   * `count` Node-RED processes on the same flows, started one after the other (the first one
   * started holds what only one may hold: a journal file, say); `env(i)` adds to each one's
   * environment.
   */
  async replicas(
    count: number,
    options: StartOptions,
    env: (i: number) => Record<string, string> = () => ({}),
  ): Promise<NodeRedProcess[]> {
    const started: NodeRedProcess[] = [];
    for (let i = 0; i < count; i++)
      started.push(await this.nodeRed({ ...options, env: { ...options.env, ...env(i) } }));
    return started;
  }

  async stop(): Promise<void> {
    await Promise.all(this.reds.splice(0).map((r) => r.stop()));
    for (const e of this.emulators.splice(0)) await e.stop();
    for (const r of this.redisServers.splice(0)) await r.stop();
    for (const d of this.dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  }
}
