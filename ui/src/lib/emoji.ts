// The emoji the picker offers, with the words that find them.
export const EMOJI: [string, string][] = [
  ["👍", "thumbs up yes ok"], ["❤️", "heart love"], ["😂", "joy laugh"], ["🎉", "tada party"],
  ["🙏", "thanks pray"], ["👀", "eyes look"], ["🔥", "fire hot"], ["✅", "check done"],
  ["😮", "wow surprised"], ["😢", "sad cry"], ["🚀", "rocket ship"], ["👏", "clap"],
  ["💯", "hundred"], ["🤔", "thinking"], ["😀", "smile grin"], ["🙌", "raised hands"],
  ["👋", "wave hello"], ["😅", "sweat smile"], ["🤝", "handshake deal"], ["⚠️", "warning"],
  ["❌", "no cross"], ["➕", "plus one"], ["☕", "coffee"], ["🐛", "bug"],
];

/** The picker's emoji whose words start with `q` (all of them for an empty query). */
export function findEmoji(q: string): string[] {
  const s = q.trim().toLowerCase();
  return EMOJI.filter(([, words]) => !s || words.split(" ").some((w) => w.startsWith(s))).map(([e]) => e);
}

/** The `@word` being typed just before `caret`, if any: its start and the word. */
export function mentionAt(text: string, caret: number): { start: number; word: string } | null {
  const m = /(^|\s)@([\p{L}\p{N}._-]*)$/u.exec(text.slice(0, caret));
  if (!m) return null;
  return { start: caret - m[2].length - 1, word: m[2] };
}
