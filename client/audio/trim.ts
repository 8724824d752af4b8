/**
 * The one rule for bytes that arrive more than once (a redelivery, a relay
 * backlog, a stream opened again where another left off): the receiver — the
 * jitter buffer, or a script's chunk reader — keeps the offset of the next
 * byte it lacks and takes only what starts there or later.
 */
export interface Piece {
  /** Byte offset of `pcm[0]` in the song's PCM data. */
  byte: number;
  pcm: Uint8Array;
}

/** The part of `pcm` (at `byte`) from `next` on; undefined when it holds nothing new. */
export function fromNext(next: number, byte: number, pcm: Uint8Array): Piece | undefined {
  if (byte + pcm.length <= next) return undefined;
  if (byte >= next) return { byte, pcm };
  return { byte: next, pcm: pcm.subarray(next - byte) };
}
