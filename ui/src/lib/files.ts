// Files in the window: reading what a person picked, pasted or dropped for the engine, and
// saying where a file's content is.
import { size } from "./format";
import { call, commands, type Attachment, type FileState } from "./api";

/** The largest file handed over from the window in one piece (the shell's `MAX_PICKED_BYTES`);
 * larger files are dropped on the window, which the shell reads from disk. */
export const MAX_PICKED = 64 * 1024 * 1024;
/** Most attachments on one message (the engine's limit). */
export const MAX_ATTACHMENTS = 50;

/** A file being attached in the composer. */
export type Pending = {
  /** Local key for the list. */
  key: number;
  name: string;
  size: number;
  /** The staged file's id, once sealed. */
  id: string | null;
  error: string;
};

/** A blob's bytes as base64 (what `stage_file` takes). */
export async function toBase64(blob: Blob): Promise<string> {
  const url = await new Promise<string>((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error ?? new Error("the file could not be read"));
    r.readAsDataURL(blob);
  });
  const comma = url.indexOf(",");
  return comma < 0 ? "" : url.slice(comma + 1);
}

/** Why a picked file cannot be handed over, or "" when it can. */
export function pickProblem(f: { name: string; size: number }): string {
  if (f.size > MAX_PICKED) {
    return `${f.name} is ${size(f.size)}: files over ${size(MAX_PICKED)} attach by dragging them onto the window.`;
  }
  return "";
}

/** Seals a picked (or pasted) file for `workspace`, ready to send, attach or share; a file
 * too large to hand over is refused with the way to attach it. */
export async function stagePicked(workspace: string, f: File): Promise<Attachment> {
  const problem = pickProblem(f);
  if (problem) throw new Error(problem);
  const name = f.name || `pasted.${(f.type.split("/")[1] ?? "bin").replace(/[^a-z0-9]/g, "")}`;
  return call(commands.stageFile(workspace, name, f.type, await toBase64(f)));
}

/** A preview safe to put in an `img`: only the JPEG data URLs the engine makes. */
export function safePreview(url: string | null | undefined): string | null {
  return url && /^data:image\/jpeg;base64,[A-Za-z0-9+/=]+$/.test(url) ? url : null;
}

/** A whole image safe to put in an `img`: only the PNG and JPEG data URLs the shell makes. */
export function wholeImage(url: string | null | undefined): string | null {
  return url && /^data:image\/(jpeg|png);base64,[A-Za-z0-9+/=]+$/.test(url) ? url : null;
}

/** A preview's size on screen: the image's shape, at most `box` pixels on its long edge. */
export function fit(width: number | null | undefined, height: number | null | undefined, box = 240): { width: number; height: number } {
  const w = width ?? 0;
  const h = height ?? 0;
  if (w <= 0 || h <= 0) return { width: box, height: box };
  const scale = Math.min(1, box / Math.max(w, h));
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

/** Where a file's content is, in a few words. */
export function describe(state: FileState | null): string {
  if (!state) return "";
  if (state.state === "ready") return "On this device";
  if (state.asked) return state.have > 0 ? `Fetching… ${state.have} of ${state.total} parts` : "Fetching…";
  return "Not on this device yet";
}

/** A small glyph for a kind of file. */
export function icon(mime: string | null | undefined): string {
  const m = mime ?? "";
  if (m.startsWith("image/")) return "🖼";
  if (m.startsWith("video/")) return "🎞";
  if (m.startsWith("audio/")) return "🎵";
  if (m === "application/pdf") return "📕";
  if (m.startsWith("text/") || m === "application/json") return "📄";
  if (m === "application/zip") return "🗜";
  return "📎";
}
