// Date arithmetic for the calendar views, in the person's local time.
import type { Occurrence } from "./bindings";

/** Monday of the week holding `d`, at local midnight. */
export function startOfWeek(d: Date): Date {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() - ((d.getDay() + 6) % 7));
}

/** `n` consecutive local days from `start`. */
export function range(start: Date, n: number): Date[] {
  return Array.from({ length: n }, (_, i) => new Date(start.getFullYear(), start.getMonth(), start.getDate() + i));
}

export function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

const pad = (n: number) => String(n).padStart(2, "0");

/** `YYYY-MM-DD` of a local day, as a date input shows it. */
export function localDay(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** `HH:MM` of a local time, as a time input shows it. */
export function localTime(d: Date): string {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The instant of a local day and time from the editor's inputs. */
export function atLocal(day: string, time: string): number {
  const t = new Date(`${day}T${time}`).getTime();
  if (Number.isNaN(t)) throw new Error(`“${day} ${time}” is not a date and time.`);
  return t;
}

/** Where a timed occurrence sits in a day column: top and height as fractions of the day, and
 * its lane among the occurrences it overlaps (side by side, none hidden). */
export type Placed = { o: Occurrence; top: number; height: number; lane: number; lanes: number };

export function layout(occurrences: Occurrence[], day: Date): Placed[] {
  const a = new Date(day.getFullYear(), day.getMonth(), day.getDate()).getTime();
  const b = new Date(day.getFullYear(), day.getMonth(), day.getDate() + 1).getTime();
  const span = b - a;
  const sorted = [...occurrences].sort((x, y) => x.start - y.start || y.end - x.end);
  const out: Placed[] = [];
  // Groups of occurrences that overlap each other transitively share a lane count.
  let group: Placed[] = [];
  let laneEnds: number[] = [];
  let groupEnd = -Infinity;
  const close = () => {
    for (const p of group) p.lanes = laneEnds.length;
    group = [];
    laneEnds = [];
  };
  for (const o of sorted) {
    const s = Math.max(o.start, a);
    const e = Math.min(Math.max(o.end, o.start), b);
    if (s >= groupEnd) close();
    let lane = laneEnds.findIndex((end) => end <= s);
    if (lane < 0) {
      lane = laneEnds.length;
      laneEnds.push(e);
    } else laneEnds[lane] = e;
    const p: Placed = { o, top: (s - a) / span, height: Math.max(e - s, 0) / span, lane, lanes: 1 };
    group.push(p);
    out.push(p);
    groupEnd = Math.max(groupEnd, e);
  }
  close();
  return out;
}
