import { describe, expect, it } from "vitest";
import { AppFailure, attempt, call, explain } from "./api";

describe("the one door to the engine", () => {
  it("a failed command throws its kind and sentence; a locked vault also asks for the passphrase", async () => {
    const asked: string[] = [];
    const on = (e: Event) => asked.push((e as CustomEvent<string>).detail);
    window.addEventListener("weft-locked", on);
    try {
      await expect(call(Promise.resolve({ status: "error" as const, error: { kind: "invalid", message: "name is empty" } })))
        .rejects.toMatchObject({ kind: "invalid", message: "name is empty" });
      expect(asked).toEqual([]);
      await expect(call(Promise.resolve({ status: "error" as const, error: { kind: "passphrase_needed", message: "keys are sealed" } })))
        .rejects.toBeInstanceOf(AppFailure);
      expect(asked).toEqual(["keys are sealed"]);
      expect(await call(Promise.resolve({ status: "ok" as const, data: 7 }))).toBe(7);
    } finally {
      window.removeEventListener("weft-locked", on);
    }
  });

  it("an action reports its failure as a sentence and skips what follows it", async () => {
    const reports: string[] = [];
    let reloaded = 0;
    const ok = await attempt(async () => { throw new AppFailure({ kind: "forbidden", message: "admins only" }); }, () => reloaded++, (m) => reports.push(m));
    expect([ok, reloaded, reports]).toEqual([false, 0, ["", "admins only"]]);
    expect(await attempt(async () => 1, () => reloaded++, (m) => reports.push(m))).toBe(true);
    expect(reloaded).toBe(1);
    expect(explain(new Error("plain"))).toBe("Error: plain");
  });
});
