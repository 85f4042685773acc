/**
 * `node scripts/demo.js` (or `npm start`) as a child process for the tests, on free ports, and the
 * process tree below it read from /proc (Linux) to prove nothing outlives it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");

export { freePort } from "./redis-server";

/** A port on 127.0.0.1 held by a listening server until close(): what a demo must move away from. */
export async function busyPort(): Promise<{ port: number; close(): void }> {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()));
  return { port: (blocker.address() as net.AddressInfo).port, close: () => blocker.close() };
}

/** Pids of every process below `pid`, read from /proc (Linux). */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces, so read after its closing parenthesis.
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // The process ended while the list was read.
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [child, parent] of parentOf) {
      if (parent === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}

export function commandOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

export interface Demo {
  child: ChildProcess;
  /** Every process seen below it while it ran: an orphan is no longer below anything. */
  seen: Set<number>;
  out: () => string;
  exited: Promise<number | null>;
}

export function startDemo(command: string, args: string[], env: Record<string, string>): Demo {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout!.on("data", (c: Buffer) => (text += c.toString("utf8")));
  child.stderr!.on("data", (c: Buffer) => (text += c.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, seen: new Set(), out: () => text, exited };
}

export async function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(true));
  });
}

/** Ends a demo and everything seen below it, by pid (a failed test must leave nothing running). */
export function killDemo(d: Demo): void {
  for (const pid of [...descendants(d.child.pid!), ...d.seen]) if (alive(pid)) process.kill(pid, "SIGKILL");
  if (d.child.exitCode === null) d.child.kill("SIGKILL");
}
