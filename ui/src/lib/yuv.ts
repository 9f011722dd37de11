/** Paints I420 pictures from the call engine into a canvas: the three planes go up as
 * textures and a fragment shader converts them (BT.601, limited range), so a picture costs
 * three texture uploads and no per-pixel JavaScript. */

/** A picture as the shell sends it: a 12-byte header (width, height, frame counter, all
 * little-endian u32) then the Y, U and V planes. */
export interface Picture {
  width: number;
  height: number;
  counter: number;
  y: Uint8Array;
  u: Uint8Array;
  v: Uint8Array;
}

/** Reads a picture; `null` when the bytes don't hold one (nothing is drawn from them). */
export function parsePicture(buf: ArrayBuffer): Picture | null {
  if (buf.byteLength < 12) return null;
  const h = new DataView(buf, 0, 12);
  const width = h.getUint32(0, true);
  const height = h.getUint32(4, true);
  const counter = h.getUint32(8, true);
  if (!width || !height || width % 2 || height % 2 || width > 3840 || height > 2160) return null;
  const ySize = width * height;
  const cSize = ySize / 4;
  if (buf.byteLength !== 12 + ySize + 2 * cSize) return null;
  return {
    width,
    height,
    counter,
    y: new Uint8Array(buf, 12, ySize),
    u: new Uint8Array(buf, 12 + ySize, cSize),
    v: new Uint8Array(buf, 12 + ySize + cSize, cSize),
  };
}

const VERTEX = `attribute vec2 p; varying vec2 t;
void main() { t = vec2((p.x + 1.0) / 2.0, (1.0 - p.y) / 2.0); gl_Position = vec4(p, 0.0, 1.0); }`;
const FRAGMENT = `precision mediump float; varying vec2 t; uniform sampler2D ty, tu, tv;
void main() {
  float y = 1.1643 * (texture2D(ty, t).r - 0.0625);
  float u = texture2D(tu, t).r - 0.5, v = texture2D(tv, t).r - 0.5;
  gl_FragColor = vec4(y + 1.5958 * v, y - 0.39173 * u - 0.8129 * v, y + 2.017 * u, 1.0);
}`;

export class YuvCanvas {
  private gl: WebGLRenderingContext;
  private textures: WebGLTexture[] = [];

  constructor(private canvas: HTMLCanvasElement) {
    const gl = canvas.getContext("webgl", { preserveDrawingBuffer: true });
    if (!gl) throw new Error("WebGL is not available");
    this.gl = gl;
    const program = gl.createProgram()!;
    for (const [type, src] of [[gl.VERTEX_SHADER, VERTEX], [gl.FRAGMENT_SHADER, FRAGMENT]] as const) {
      const s = gl.createShader(type)!;
      gl.shaderSource(s, src);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s) ?? "shader");
      gl.attachShader(program, s);
    }
    gl.linkProgram(program);
    gl.useProgram(program);
    const buf = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buf);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    const loc = gl.getAttribLocation(program, "p");
    gl.enableVertexAttribArray(loc);
    gl.vertexAttribPointer(loc, 2, gl.FLOAT, false, 0, 0);
    ["ty", "tu", "tv"].forEach((name, i) => {
      const tex = gl.createTexture()!;
      gl.activeTexture(gl.TEXTURE0 + i);
      gl.bindTexture(gl.TEXTURE_2D, tex);
      for (const p of [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T]) gl.texParameteri(gl.TEXTURE_2D, p, gl.CLAMP_TO_EDGE);
      for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.LINEAR);
      gl.uniform1i(gl.getUniformLocation(program, name), i);
      this.textures.push(tex);
    });
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
  }

  draw(p: Picture) {
    const gl = this.gl;
    if (this.canvas.width !== p.width || this.canvas.height !== p.height) {
      this.canvas.width = p.width;
      this.canvas.height = p.height;
    }
    gl.viewport(0, 0, p.width, p.height);
    const planes: [Uint8Array, number, number][] = [
      [p.y, p.width, p.height],
      [p.u, p.width / 2, p.height / 2],
      [p.v, p.width / 2, p.height / 2],
    ];
    planes.forEach(([data, w, h], i) => {
      gl.activeTexture(gl.TEXTURE0 + i);
      gl.bindTexture(gl.TEXTURE_2D, this.textures[i]);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.LUMINANCE, w, h, 0, gl.LUMINANCE, gl.UNSIGNED_BYTE, data);
    });
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }
}
