import { describe, expect, it } from "vitest";
import { parsePicture } from "./yuv";

function picture(width: number, height: number, counter: number, extra = 0): ArrayBuffer {
  const size = 12 + width * height * 1.5 + extra;
  const buf = new ArrayBuffer(size);
  const h = new DataView(buf);
  h.setUint32(0, width, true);
  h.setUint32(4, height, true);
  h.setUint32(8, counter, true);
  new Uint8Array(buf, 12, width * height).fill(200);
  return buf;
}

describe("parsePicture", () => {
  it("reads the header and splits the three planes", () => {
    const p = parsePicture(picture(4, 2, 7))!;
    expect([p.width, p.height, p.counter]).toEqual([4, 2, 7]);
    expect(p.y.length).toBe(8);
    expect(p.u.length).toBe(2);
    expect(p.v.length).toBe(2);
    expect(p.y[7]).toBe(200);
    expect(p.u[0]).toBe(0);
  });

  it("refuses bytes that don't hold a whole picture", () => {
    expect(parsePicture(new ArrayBuffer(5))).toBeNull();
    expect(parsePicture(picture(4, 2, 1, 1))).toBeNull();
    expect(parsePicture(picture(3, 2, 1))).toBeNull();
    expect(parsePicture(picture(0, 2, 1))).toBeNull();
    const big = new ArrayBuffer(12);
    new DataView(big).setUint32(0, 8000, true);
    new DataView(big).setUint32(4, 8000, true);
    expect(parsePicture(big)).toBeNull();
  });
});
