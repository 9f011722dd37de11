import { afterEach, describe, expect, it } from "vitest";
import { flushSync, mount, unmount } from "svelte";
import Text from "./Text.svelte";

let mounted: Record<string, unknown>[] = [];
afterEach(() => {
  mounted.forEach((c) => unmount(c));
  mounted = [];
  document.body.innerHTML = "";
});

function show(text: string): HTMLElement {
  const target = document.createElement("div");
  document.body.appendChild(target);
  mounted.push(mount(Text, { target, props: { text } }));
  flushSync();
  return target;
}

describe("Text", () => {
  it("draws markdown as elements", () => {
    const el = show("**bold** and `code` https://weft.app");
    expect(el.querySelector("strong")?.textContent).toBe("bold");
    expect(el.querySelector("code")?.textContent).toBe("code");
    const a = el.querySelector("a");
    expect(a?.getAttribute("href")).toBe("https://weft.app");
    expect(a?.getAttribute("rel")).toContain("noopener");
  });

  it("shows HTML and script as the text they are", () => {
    const evil = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>';
    const el = show(evil);
    expect(el.querySelector("img, script")).toBeNull();
    expect(el.textContent).toBe(evil);
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined();
  });

  it("never links javascript:", () => {
    const el = show("[x](javascript:alert(1)) javascript:alert(1)");
    expect(el.querySelector("a")).toBeNull();
  });
});
