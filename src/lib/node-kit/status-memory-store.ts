/**
 * status-mapper's memory of the last status per (lead, program), kept in the node's context
 * store so it outlives a restart.
 */
import type { NodeContext } from "node-red";
import type { StatusMemory } from "../flow/status-memory";

/** The context key the memory is kept under (node context, the chosen store). */
const MEMORY_KEY = "statusMapperLastStatus";
const PERSIST_DELAY_MS = 1000;

/** The memory's copy in the context store: written a second after a change, and on close. */
export function memoryPersistence(ctx: NodeContext, store: string | undefined, warn: (err: Error) => void) {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const cancel = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const save = (memory: StatusMemory, cb?: () => void) => {
    cancel();
    ctx.set(MEMORY_KEY, memory, store as string, (err?: Error) => {
      if (err) warn(err);
      cb?.();
    });
  };
  return {
    load(cb: (memory: unknown, err?: Error) => void) {
      ctx.get(MEMORY_KEY, store as string, (err: Error | undefined, value: unknown) => cb(value, err));
    },
    save,
    schedule(memory: StatusMemory) {
      if (timer || closed) return;
      timer = setTimeout(() => save(memory), PERSIST_DELAY_MS);
      timer.unref?.();
    },
    /** Stops the timer without saving (the node removed, or never loaded). */
    cancel() {
      closed = true;
      cancel();
    },
    close() {
      closed = true;
    },
  };
}

export type MemoryPersistence = ReturnType<typeof memoryPersistence>;
