import { BadArgError, NameTakenError } from './errors.js';
import type { Pid } from './pid.js';

const NAME = /^[^.\s][^.]{0,199}$/;

export function assertValidName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new BadArgError(
      `Invalid registered name ${JSON.stringify(name)}: use a non-empty string of at most 200 characters without "." (a pid is "<node-id>.<serial>", so names never contain dots).`,
    );
  }
}

/** Registered names of one node (Erlang's register/whereis/unregister). */
export class NameRegistry {
  private readonly byName = new Map<string, Pid>();

  whereis(name: string): Pid | undefined {
    return this.byName.get(name);
  }

  /** Throws unless `name` is a valid name that nobody holds; `who` names the would-be holder. */
  assertFree(name: string, who: string): void {
    assertValidName(name);
    const holder = this.byName.get(name);
    if (holder !== undefined) {
      throw new NameTakenError(
        name,
        holder,
        `Cannot register ${who} as "${name}": the name is already registered to ${holder}.`,
      );
    }
  }

  register(name: string, pid: Pid, currentNameOfPid: string | undefined): void {
    this.assertFree(name, pid);
    if (currentNameOfPid !== undefined) {
      throw new BadArgError(
        `Cannot register ${pid} as "${name}": it is already registered as "${currentNameOfPid}" (a process has at most one name; unregister it first).`,
      );
    }
    this.byName.set(name, pid);
  }

  /** Returns the pid the name was bound to. */
  unregister(name: string): Pid {
    const pid = this.byName.get(name);
    if (pid === undefined) {
      throw new BadArgError(`Cannot unregister "${name}": no process is registered under that name.`);
    }
    this.byName.delete(name);
    return pid;
  }

  release(name: string): void {
    this.byName.delete(name);
  }

  get size(): number {
    return this.byName.size;
  }
}
