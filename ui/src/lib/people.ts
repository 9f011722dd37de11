// Names for the ids the engine hands out: members by user id, DMs by who is in them.
import type { ChannelView, MemberView } from "./bindings";

export type People = Record<string, MemberView>;

export function byUser(members: MemberView[]): People {
  const out: People = {};
  for (const m of members) out[m.user] = m;
  return out;
}

export function nameOf(people: People, user: string | null | undefined): string {
  if (!user) return "Someone";
  const p = people[user]?.profile;
  return p?.display_name || p?.username || `user ${user.slice(0, 6)}`;
}

export function handleOf(people: People, user: string): string {
  return people[user]?.profile?.username || user.slice(0, 8);
}

export function isDm(c: ChannelView): boolean {
  return c.channel.kind === "dm" || c.channel.kind === "group_dm";
}

/** A conversation's title: `#name`, or the names of the others in a DM. */
export function titleOf(c: ChannelView, people: People, me: string | null): string {
  if (!isDm(c)) return `#${c.channel.name ?? ""}`;
  const others = Object.entries(c.channel.members ?? {})
    .filter(([u, on]) => on && u !== me)
    .map(([u]) => nameOf(people, u));
  return others.length ? others.join(", ") : "Just me";
}

export function isMember(c: ChannelView, me: string | null): boolean {
  return !!me && !!c.channel.members?.[me];
}

/** Ranks `items` by how well `query` matches `label(item)`: prefix, word start, then anywhere. */
export function fuzzy<T>(items: T[], query: string, label: (t: T) => string): T[] {
  const q = query.trim().toLowerCase();
  if (!q) return items;
  const scored: [number, T][] = [];
  for (const it of items) {
    const l = label(it).toLowerCase().replace(/^#/, "");
    let score = -1;
    if (l.startsWith(q)) score = 0;
    else if (l.split(/[\s\-_.,]+/).some((w) => w.startsWith(q))) score = 1;
    else if (l.includes(q)) score = 2;
    if (score >= 0) scored.push([score, it]);
  }
  return scored.sort((a, b) => a[0] - b[0]).map(([, t]) => t);
}
