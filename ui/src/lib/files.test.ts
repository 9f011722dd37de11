import { describe, expect, it } from "vitest";
import { MAX_PICKED, describe as where, fit, icon, pickProblem, safePreview, toBase64, wholeImage } from "./files";

describe("files in the window", () => {
  it("hands over a file's exact bytes as base64, binary and empty ones too", async () => {
    const bytes = new Uint8Array([0, 255, 1, 254, 10, 13, 0x2b, 0x2f]);
    expect(await toBase64(new Blob([bytes]))).toBe(btoa(String.fromCharCode(...bytes)));
    expect(await toBase64(new Blob([]))).toBe("");
    expect(atob(await toBase64(new Blob(["héllo"])))).toBe(unescape(encodeURIComponent("héllo")));
  });

  it("refuses to hand over a file too large for one piece, and says how to attach it", () => {
    expect(pickProblem({ name: "small.pdf", size: MAX_PICKED })).toBe("");
    const p = pickProblem({ name: "film.mp4", size: MAX_PICKED + 1 });
    expect(p).toContain("film.mp4");
    expect(p).toContain("dragging");
  });

  it("shows only the engine's JPEG previews, never a script or another kind of URL", () => {
    expect(safePreview("data:image/jpeg;base64,/9j/4AAQ+/=")).toBe("data:image/jpeg;base64,/9j/4AAQ+/=");
    for (const bad of ["javascript:alert(1)", "data:image/svg+xml;base64,PHN2Zz4=", "https://evil.example/x.jpg",
      "data:image/jpeg;base64,AA\" onerror=\"alert(1)", "", null, undefined]) {
      expect(safePreview(bad)).toBeNull();
    }
  });

  it("shows an image whole only as a PNG or JPEG data URL", () => {
    expect(wholeImage("data:image/png;base64,iVBORw0KGgo=")).toBe("data:image/png;base64,iVBORw0KGgo=");
    expect(wholeImage("data:image/jpeg;base64,/9j/")).toBe("data:image/jpeg;base64,/9j/");
    for (const bad of ["data:image/svg+xml;base64,PHN2Zz4=", "data:text/html;base64,PGI+", "javascript:1", null]) {
      expect(wholeImage(bad)).toBeNull();
    }
  });

  it("keeps an image's shape within the preview box, and never grows a small one", () => {
    expect(fit(640, 400)).toEqual({ width: 240, height: 150 });
    expect(fit(400, 640)).toEqual({ width: 150, height: 240 });
    expect(fit(100, 50)).toEqual({ width: 100, height: 50 });
    expect(fit(10_000, 1)).toEqual({ width: 240, height: 1 });
    expect(fit(null, 0)).toEqual({ width: 240, height: 240 });
  });

  it("says where a file's content is", () => {
    expect(where({ state: "ready" })).toBe("On this device");
    expect(where({ state: "missing", have: 0, total: 3, asked: false })).toBe("Not on this device yet");
    expect(where({ state: "missing", have: 0, total: 3, asked: true })).toBe("Fetching…");
    expect(where({ state: "missing", have: 2, total: 3, asked: true })).toBe("Fetching… 2 of 3 parts");
    expect(where(null)).toBe("");
  });

  it("marks files by kind", () => {
    expect([icon("image/png"), icon("application/pdf"), icon("text/plain"), icon("application/x-thing"), icon(null)])
      .toEqual(["🖼", "📕", "📄", "📎", "📎"]);
  });
});
