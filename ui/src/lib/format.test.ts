import { afterEach, describe, expect, it } from "vitest";
import { day, setLocale, size, time } from "./format";

afterEach(() => setLocale(undefined));

describe("dates in the chosen language", () => {
  const d = new Date(2026, 11, 1, 9, 30);
  it("follows the language set in Settings", () => {
    setLocale("de");
    expect(day(d)).toBe("1. Dez. 2026");
    expect(time(d)).toBe("09:30");
    setLocale("fr");
    expect(day(d)).toBe("1 déc. 2026");
  });
  it("sizes read the way a file manager shows them", () => {
    expect([size(0), size(999), size(1_234_567), size(5e9)]).toEqual(["0 B", "999 B", "1.2 MB", "5.0 GB"]);
  });
  it("a tag that is not a language falls back to the system's without failing", () => {
    setLocale("not a language!");
    expect(day(d)).toBe(d.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" }));
  });
});
