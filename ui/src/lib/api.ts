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

/** Kinds of failure that mean the vault wants its passphrase: wherever one comes from, the app
 * asks for it (the `weft-locked` window event). */
export const LOCKED = ["passphrase_needed", "wrong_passphrase"];

export async function call<T>(p: Promise<Outcome<T>>): Promise<T> {
  const r = await p;
  if (r.status === "error") {
    if (LOCKED.includes(r.error.kind) && typeof window !== "undefined") {
      window.dispatchEvent(new CustomEvent("weft-locked", { detail: r.error.message }));
    }
    throw new AppFailure(r.error);
  }
  return r.data;
}

export { commands, events };
export type * from "./bindings";

/** A failure as a person reads it: the shell's sentence, or the error's text. */
export function explain(e: unknown): string {
  return e instanceof AppFailure ? e.message : String(e);
}

/** Runs a person's action, then `after` (a reload, say). `report` gets "" first (clearing the
 * last error), then the failure's sentence if there is one; answers whether it all worked. */
export async function attempt(f: () => Promise<unknown>, after: () => unknown, report: (message: string) => void): Promise<boolean> {
  report("");
  try {
    await f();
    await after();
    return true;
  } catch (e) {
    report(explain(e));
    return false;
  }
}
