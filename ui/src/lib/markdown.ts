// Message text to safe markup, by construction: the renderer produces a tree of a few node
// kinds that the UI draws with Svelte elements; nothing is ever inserted as HTML, so a message
// holding <script>, an event handler or a `javascript:` link shows as the text it is.

export type Inline =
  | { kind: "text"; text: string }
  | { kind: "bold"; children: Inline[] }
  | { kind: "italic"; children: Inline[] }
  | { kind: "strike"; children: Inline[] }
  | { kind: "code"; text: string }
  | { kind: "link"; href: string; text: string }
  | { kind: "mention"; name: string };

export type Block =
  | { kind: "paragraph"; children: Inline[] }
  | { kind: "codeblock"; text: string }
  | { kind: "quote"; children: Inline[] }
  | { kind: "list"; items: Inline[][] };

/** Longest text rendered; the rest is cut (the message itself is kept whole). */
export const MAX_RENDERED = 20_000;
/** Deepest nesting of emphasis. */
const MAX_DEPTH = 4;

/** Only these schemes become links; anything else stays text. */
export function safeHref(url: string): string | null {
  const u = url.trim();
  if (/^https?:\/\/[^\s<>"']+$/i.test(u)) return u;
  if (/^weft:\/\/[a-z]+\/[^\s<>"']*$/i.test(u)) return u;
  return null;
}

export function render(input: string): Block[] {
  const text = input.length > MAX_RENDERED ? input.slice(0, MAX_RENDERED) + "…" : input;
  const blocks: Block[] = [];
  const lines = text.split(/\r?\n/);
  let para: string[] = [];
  const flush = () => {
    if (para.length) blocks.push({ kind: "paragraph", children: inline(para.join("\n"), 0) });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("```")) {
      flush();
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].startsWith("```")) body.push(lines[i++]);
      blocks.push({ kind: "codeblock", text: body.join("\n") });
    } else if (line.startsWith("> ")) {
      flush();
      blocks.push({ kind: "quote", children: inline(line.slice(2), 0) });
    } else if (/^[-*] /.test(line)) {
      flush();
      const items: Inline[][] = [];
      while (i < lines.length && /^[-*] /.test(lines[i])) items.push(inline(lines[i++].slice(2), 0));
      i--;
      blocks.push({ kind: "list", items });
    } else if (line.trim() === "") {
      flush();
    } else {
      para.push(line);
    }
  }
  flush();
  return blocks;
}

const MARKS: [string, "bold" | "italic" | "strike"][] = [
  ["**", "bold"],
  ["~~", "strike"],
  ["*", "italic"],
  ["_", "italic"],
];

export function inline(s: string, depth: number): Inline[] {
  const out: Inline[] = [];
  let buf = "";
  const push = (n: Inline) => {
    if (buf) out.push({ kind: "text", text: buf });
    buf = "";
    out.push(n);
  };
  let i = 0;
  outer: while (i < s.length) {
    const rest = s.slice(i);
    if (rest[0] === "`") {
      const end = s.indexOf("`", i + 1);
      if (end > i + 1) {
        push({ kind: "code", text: s.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
    }
    const url = /^(https?:\/\/[^\s<>"']+|weft:\/\/[a-z]+\/[^\s<>"']*)/i.exec(rest);
    if (url && (i === 0 || /\s|\(/.test(s[i - 1]))) {
      const href = safeHref(url[1].replace(/[.,;:!?)]+$/, ""));
      if (href) {
        push({ kind: "link", href, text: href });
        i += href.length;
        continue;
      }
    }
    const mention = /^@([a-z0-9_.-]{1,40})/i.exec(rest);
    if (mention && (i === 0 || /\s/.test(s[i - 1]))) {
      push({ kind: "mention", name: mention[1] });
      i += mention[0].length;
      continue;
    }
    if (depth < MAX_DEPTH) {
      for (const [mark, kind] of MARKS) {
        if (rest.startsWith(mark) && rest.length > mark.length * 2 && rest[mark.length] !== " ") {
          const end = s.indexOf(mark, i + mark.length);
          if (end > i + mark.length && s[end - 1] !== " ") {
            push({ kind, children: inline(s.slice(i + mark.length, end), depth + 1) });
            i = end + mark.length;
            continue outer;
          }
        }
      }
    }
    buf += s[i];
    i++;
  }
  if (buf) out.push({ kind: "text", text: buf });
  return out;
}

/** The plain text of rendered inlines (for previews and notifications). */
export function plain(nodes: Inline[]): string {
  return nodes
    .map((n) => ("children" in n ? plain(n.children) : n.kind === "mention" ? "@" + n.name : n.text))
    .join("");
}
