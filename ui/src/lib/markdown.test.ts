import { describe, expect, it } from "vitest";
import { inline, render, safeHref, MAX_RENDERED } from "./markdown";

describe("markdown", () => {
  it("renders emphasis, code, links and mentions", () => {
    expect(inline("**ship** it `now` @ana https://weft.app/x", 0)).toEqual([
      { kind: "bold", children: [{ kind: "text", text: "ship" }] },
      { kind: "text", text: " it " },
      { kind: "code", text: "now" },
      { kind: "text", text: " " },
      { kind: "mention", name: "ana" },
      { kind: "text", text: " " },
      { kind: "link", href: "https://weft.app/x", text: "https://weft.app/x" },
    ]);
  });

  it("keeps script and HTML as text", () => {
    const blocks = render('<script>alert(1)</script><img src=x onerror="alert(2)">');
    expect(blocks).toEqual([
      {
        kind: "paragraph",
        children: [{ kind: "text", text: '<script>alert(1)</script><img src=x onerror="alert(2)">' }],
      },
    ]);
  });

  it("never makes a link of javascript:, data: or vbscript:", () => {
    for (const u of ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<b>", "vbscript:x"]) {
      expect(safeHref(u)).toBeNull();
      const nodes = inline(`see ${u}`, 0);
      expect(nodes.some((n) => n.kind === "link")).toBe(false);
    }
    expect(safeHref('https://x.org/"onmouseover=alert(1)')).toBeNull();
  });

  it("cuts oversized input instead of rendering all of it", () => {
    const huge = "a".repeat(MAX_RENDERED * 3);
    const [p] = render(huge);
    expect(p.kind).toBe("paragraph");
    const text = p.kind === "paragraph" && p.children[0].kind === "text" ? p.children[0].text : "";
    expect(text.length).toBe(MAX_RENDERED + 1);
  });

  it("bounds nesting", () => {
    const deep = "**".repeat(50) + "x" + "**".repeat(50);
    expect(() => render(deep)).not.toThrow();
  });

  it("renders code blocks, quotes and lists", () => {
    expect(render("```\n<b>x</b>\n```\n> said\n- one\n- two").map((b) => b.kind)).toEqual([
      "codeblock",
      "quote",
      "list",
    ]);
  });
});
