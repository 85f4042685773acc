/**
 * Failed records reach Catch nodes by node.error(err, msg), since a message's own done() is
 * called once its records are journaled: one Catch per record of a one-record message, one per
 * message (the first error and the count) once every record of an array payload is answered.
 */
import type { Node, NodeAPI, NodeMessage } from "node-red";
import { RecordFailure, type RecordErrorInfo } from "../actions/action-outcome";

interface Group {
  left: number;
  total: number;
  failed: number;
  first?: { error: RecordErrorInfo; msg: NodeMessage };
}

export class CatchGroups {
  /** Array payloads whose records are not all answered yet. */
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly RED: NodeAPI,
    private readonly node: Node,
    private readonly type: string,
  ) {}

  /** A new array payload of `size` records: its id goes with each record. */
  open(size: number): string {
    const id = this.RED.util.generateId();
    this.groups.set(id, { left: size, total: size, failed: 0 });
    return id;
  }

  /** One record answered: `error` when it failed. */
  answered(group: string | undefined, m: NodeMessage, error: RecordErrorInfo | undefined): void {
    const g = group !== undefined ? this.groups.get(group) : undefined;
    if (!g) {
      if (error) this.node.error(new RecordFailure(this.type, error), m);
      return;
    }
    if (error) {
      g.failed++;
      g.first ??= { error, msg: this.RED.util.cloneMessage(m) };
    }
    if (--g.left > 0) return;
    this.groups.delete(group!);
    if (g.first) this.node.error(new RecordFailure(this.type, g.first.error, g.failed, g.total), g.first.msg);
  }
}
