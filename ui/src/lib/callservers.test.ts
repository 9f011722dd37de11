import { describe as suite, expect, it } from "vitest";
import { describe, fromRows, toRows } from "./callservers";

suite("call servers in settings", () => {
  it("round-trips what the workspace stores", () => {
    const servers = [
      { urls: ["stun:stun.acme.example:3478"], username: "", credential: "" },
      { urls: ["turn:turn.acme.example:3478", "turn:10.0.0.2:3478?transport=udp"], username: "acme", credential: "pw" },
    ];
    expect(fromRows(toRows(servers))).toEqual(servers);
  });

  it("splits addresses, drops blank rows and a STUN server's credential", () => {
    expect(
      fromRows([
        { urls: " turn:a.example:3478,turn:b.example:3478  ", username: " acme ", credential: "pw" },
        { urls: "   ", username: "x", credential: "y" },
        { urls: "stun:s.example:3478", username: "left", credential: "over" },
      ]),
    ).toEqual([
      { urls: ["turn:a.example:3478", "turn:b.example:3478"], username: "acme", credential: "pw" },
      { urls: ["stun:s.example:3478"], username: "", credential: "" },
    ]);
  });

  it("tells a member how calls get through, without any credential", () => {
    expect(describe([], false)).toBe("Calls connect directly, with no STUN or TURN server.");
    const turn = [{ urls: ["turn:t.example:3478"], username: "acme", credential: "secret" }];
    expect(describe(turn, true)).toBe("Calls go only through the team's TURN server (turn:t.example:3478).");
    expect(describe(turn, false)).not.toContain("secret");
  });
});
