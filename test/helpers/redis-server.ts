/**
 * A real redis-server (Debian's package) on a free 127.0.0.1 port, without persistence, stopped
 * by its PID. Outside CI a machine without redis-server skips the Redis tests with a message;
 * under CI=true its absence is a failure.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";

const CANDIDATES = [process.env.REDIS_SERVER, "/usr/bin/redis-server", "/usr/local/bin/redis-server"].filter(
  (p): p is string => !!p,
);

export function redisServerPath(): string | undefined {
  return CANDIDATES.find((p) => fs.existsSync(p));
}

/** Call from a `before` hook: skips the suite when redis-server is absent (fails under CI). */
export function requireRedis(ctx: { skip(): void }): string {
  const bin = redisServerPath();
  if (bin) return bin;
  if (process.env.CI === "true")
    throw new Error("redis-server is not installed (apt-get install redis-server); the Redis tests must run under CI");

  console.log("    (skipped: redis-server is not installed; apt-get install redis-server to run the Redis tests)");
  ctx.skip();
  throw new Error("unreachable");
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly running: boolean;
  /** Stops the server (SIGTERM by PID) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (no persistence). */
  start(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

export async function startRedis(bin: string, extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    const c = spawn(
      bin,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...extraArgs],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = c;
    children.add(c);
    exited = new Promise((r) =>
      c.once("exit", () => {
        children.delete(c);
        r();
      }),
    );
    let out = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${port}:\n${out}`)), 10_000);
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (/Ready to accept connections/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      c.stdout!.on("data", onData);
      c.stderr!.on("data", onData);
      c.once("exit", () => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited:\n${out}`));
      });
    });
  };

  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    process.kill(c.pid!, "SIGTERM");
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    stop,
    start,
  };
}
