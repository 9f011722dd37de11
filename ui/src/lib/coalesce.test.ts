import { describe, expect, it } from "vitest";
import { coalesce } from "./coalesce";

/** A task whose runs finish when the test says so. */
function gated() {
  const log: string[] = [];
  const gates: (() => void)[] = [];
  let n = 0;
  const task = () => {
    const me = ++n;
    log.push(`start ${me}`);
    return new Promise<void>((resolve) =>
      gates.push(() => {
        log.push(`end ${me}`);
        resolve();
      }),
    );
  };
  return { log, gates, task };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("coalesce", () => {
  it("runs a burst of calls as the run in flight and one more after it", async () => {
    const { log, gates, task } = gated();
    const load = coalesce(task);
    const first = load();
    const rest = Array.from({ length: 100 }, () => load());
    await settle();
    expect(log).toEqual(["start 1"]);
    gates[0]();
    await first;
    await settle();
    expect(log).toEqual(["start 1", "end 1", "start 2"]);
    gates[1]();
    await Promise.all(rest);
    expect(log).toEqual(["start 1", "end 1", "start 2", "end 2"]);
  });

  it("runs again after a run that failed, and each caller learns of its own run's failure", async () => {
    let calls = 0;
    const load = coalesce(async () => {
      calls++;
      await settle();
      if (calls === 1) throw new Error("busy");
    });
    const first = load();
    const second = load();
    await expect(first).rejects.toThrow("busy");
    await expect(second).resolves.toBeUndefined();
    expect(calls).toBe(2);
    // Idle again: the next call starts a run of its own.
    await load();
    expect(calls).toBe(3);
  });
});
