import type { CallServer } from "./bindings";

/** A call server as the settings form edits it: its addresses in one field. */
export type ServerRow = { urls: string; username: string; credential: string };

/** The rows for a workspace's call servers. */
export function toRows(servers: CallServer[] | undefined): ServerRow[] {
  return (servers ?? []).map((s) => ({
    urls: (s.urls ?? []).join(", "),
    username: s.username ?? "",
    credential: s.credential ?? "",
  }));
}

/** The call servers the rows describe: addresses split on commas and spaces, blank rows
 * dropped, a STUN server's credential left out (only TURN uses one). The engine checks the
 * rest and says what is wrong. */
export function fromRows(rows: ServerRow[]): CallServer[] {
  return rows
    .map((r) => ({ urls: r.urls.split(/[\s,]+/).filter(Boolean), username: r.username.trim(), credential: r.credential }))
    .filter((s) => s.urls.length > 0)
    .map((s) => (s.urls.some((u) => u.startsWith("turn:")) ? s : { urls: s.urls, username: "", credential: "" }));
}

/** One line saying how calls get through, for members who can't change it. */
export function describe(servers: CallServer[] | undefined, relayOnly: boolean | undefined): string {
  const urls = (servers ?? []).flatMap((s) => s.urls ?? []);
  if (urls.length === 0) return "Calls connect directly, with no STUN or TURN server.";
  const through = relayOnly ? "Calls go only through the team's TURN server" : "Calls connect directly where they can";
  return `${through} (${urls.join(", ")}).`;
}
