// Dates and times in the language the person chose in Settings (the system's until then).
let locale: string | undefined;

/** The language for every date and time shown from now on (`en`, `de`, ...); an unknown tag
 * falls back to the system's. */
export function setLocale(tag: string | undefined): void {
  try {
    locale = tag ? Intl.getCanonicalLocales(tag)[0] : undefined;
  } catch {
    locale = undefined;
  }
}

const at = (t: number | Date) => (t instanceof Date ? t : new Date(t));

/** 09:30 */
export function time(t: number | Date): string {
  return at(t).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
}

/** 1 Dec 2026 */
export function day(t: number | Date): string {
  return at(t).toLocaleDateString(locale, { day: "numeric", month: "short", year: "numeric" });
}

/** 1 Dec 2026, 09:30 */
export function dateTime(t: number | Date): string {
  return at(t).toLocaleString(locale, { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
}

/** 1.2 MB */
export function size(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** Any other shape of a date, in the chosen language. */
export function formatDate(t: number | Date, options: Intl.DateTimeFormatOptions): string {
  return at(t).toLocaleDateString(locale, options);
}
