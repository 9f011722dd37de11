import { describe, expect, it } from "vitest";
import { isChannelDoc } from "./docs";

describe("isChannelDoc", () => {
  const ws = "01JD0000000000000000000000";
  const ch = "01JD0000000000000000000001";
  it("takes any segment of the channel", () => {
    expect(isChannelDoc(`ch:${ws}:${ch}:0`, ch)).toBe(true);
    expect(isChannelDoc(`ch:${ws}:${ch}:17`, ch)).toBe(true);
  });
  it("leaves other channels, other kinds and malformed ids alone", () => {
    expect(isChannelDoc(`ch:${ws}:01JD0000000000000000000002:0`, ch)).toBe(false);
    expect(isChannelDoc(`call:${ch}`, ch)).toBe(false);
    expect(isChannelDoc(`ws:${ch}`, ch)).toBe(false);
    expect(isChannelDoc(`ch:${ws}:${ch}`, ch)).toBe(false);
    expect(isChannelDoc(`ch:${ws}:${ch}:x`, ch)).toBe(false);
  });
});
