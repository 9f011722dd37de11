import { describe, expect, it } from "vitest";
import { atLocal, layout, localDay, localTime, range, startOfWeek } from "./calendar";
import type { Occurrence } from "./bindings";

const occ = (title: string, start: number, end: number): Occurrence => ({ event: { title }, start, end });

describe("calendar arithmetic", () => {
  it("weeks start on Monday, including across a month end", () => {
    const sunday = new Date(2026, 10, 29); // Sunday 29 November 2026
    expect(localDay(startOfWeek(sunday))).toBe("2026-11-23");
    expect(range(startOfWeek(sunday), 7).map(localDay).at(-1)).toBe("2026-11-29");
    expect(localDay(startOfWeek(new Date(2026, 11, 1)))).toBe("2026-11-30");
  });

  it("editor inputs round-trip through an instant", () => {
    const t = atLocal("2026-12-01", "09:30");
    expect(localDay(new Date(t))).toBe("2026-12-01");
    expect(localTime(new Date(t))).toBe("09:30");
    expect(() => atLocal("2026-13-45", "99:99")).toThrow(/not a date/);
  });

  it("overlapping events sit side by side and separate ones take the full width", () => {
    const day = new Date(2026, 11, 1);
    const h = (n: number) => atLocal("2026-12-01", `${String(n).padStart(2, "0")}:00`);
    const placed = layout([occ("a", h(9), h(11)), occ("b", h(10), h(12)), occ("c", h(13), h(14))], day);
    const by = Object.fromEntries(placed.map((p) => [p.o.event.title, p]));
    expect([by.a.lane, by.b.lane, by.a.lanes, by.b.lanes]).toEqual([0, 1, 2, 2]);
    expect([by.c.lane, by.c.lanes]).toEqual([0, 1]);
    expect(by.a.top).toBeCloseTo(9 / 24);
    expect(by.a.height).toBeCloseTo(2 / 24);
  });

  it("an event crossing midnight is clipped to the day shown", () => {
    const day = new Date(2026, 11, 1);
    const start = atLocal("2026-11-30", "23:00");
    const end = atLocal("2026-12-01", "01:00");
    const [p] = layout([occ("late", start, end)], day);
    expect(p.top).toBe(0);
    expect(p.height).toBeCloseTo(1 / 24);
  });
});
