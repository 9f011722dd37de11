import { describe, expect, it } from "vitest";
import { fuzzy, titleOf, byUser } from "./people";
import { mentionAt, findEmoji } from "./emoji";
import type { ChannelView, MemberView } from "./bindings";

const member = (user: string, display_name: string, username: string): MemberView => ({
  user, member: { role: "member" }, profile: { display_name, username },
});

describe("names and finding", () => {
  const people = byUser([member("u1", "Ana Lima", "ana"), member("u2", "Ben Ode", "ben")]);
  it("a DM is titled by the others in it, a channel by its name", () => {
    const dm: ChannelView = { channel: { kind: "dm", members: { u1: true, u2: true } }, workspace: "w", unread: 0, mentions: 0 };
    expect(titleOf(dm, people, "u1")).toBe("Ben Ode");
    const ch: ChannelView = { channel: { kind: "public", name: "general" }, workspace: "w", unread: 0, mentions: 0 };
    expect(titleOf(ch, people, "u1")).toBe("#general");
  });

  it("the switcher ranks a prefix before a word start before a substring, and drops misses", () => {
    const names = ["design-review", "general", "engineering", "random"];
    expect(fuzzy(names, "en", (s) => s)).toEqual(["engineering", "general"]);
    expect(fuzzy(names, "rev", (s) => s)).toEqual(["design-review"]);
    expect(fuzzy(names, "zzz", (s) => s)).toEqual([]);
  });

  it("a mention is offered only while an @word is being typed", () => {
    expect(mentionAt("hi @an", 6)).toEqual({ start: 3, word: "an" });
    expect(mentionAt("mail a@b", 8)).toBeNull();
    expect(mentionAt("@ana done", 9)).toBeNull();
    expect(findEmoji("thu")).toEqual(["👍"]);
  });
});
