/** What the engine's change events name: its documents' ids, as `DocId`'s `Display` writes
 * them (crates/sync/src/doc_id.rs). */

/** Whether `doc` is one of `channel`'s segments: `ch:<workspace>:<channel>:<segment>`. */
export function isChannelDoc(doc: string, channel: string): boolean {
  const parts = doc.split(":");
  return parts.length === 4 && parts[0] === "ch" && parts[2] === channel && /^\d+$/.test(parts[3]);
}
