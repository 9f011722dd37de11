// The UI's one door to the engine: the generated bindings, with a failed command turned into
// a thrown `AppFailure` carrying the shell's `{ kind, message }`.
import { commands, events } from "./bindings";
import type { AppError } from "./bindings";

export class AppFailure extends Error {
  constructor(public readonly error: AppError) {
    super(error.message);
  }
  get kind(): string {
    return this.error.kind;
  }
}

type Outcome<T> = { status: "ok"; data: T } | { status: "error"; error: AppError };

export async function call<T>(p: Promise<Outcome<T>>): Promise<T> {
  const r = await p;
  if (r.status === "error") throw new AppFailure(r.error);
  return r.data;
}

export { commands, events };
export type * from "./bindings";
