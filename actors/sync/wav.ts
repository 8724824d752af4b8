/**
 * The cheap WAV check sync applies before moving a file: a RIFF/WAVE header
 * whose declared length fits the file. A file still being copied into the
 * folder declares more bytes than it has, so it waits for a later round.
 */
import { open } from "node:fs/promises";

export type WavState = "ok" | "not-wav" | "incomplete";

export function wavStateOf(header: Uint8Array, fileSize: number): WavState {
  if (header.length < 12) return "not-wav";
  const b = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  if (b.toString("latin1", 0, 4) !== "RIFF" || b.toString("latin1", 8, 12) !== "WAVE") {
    return "not-wav";
  }
  const declared = b.readUInt32LE(4) + 8;
  return declared > fileSize ? "incomplete" : "ok";
}

export async function wavStateOfFile(file: string, fileSize: number): Promise<WavState> {
  const fh = await open(file, "r");
  try {
    const header = Buffer.alloc(12);
    const { bytesRead } = await fh.read(header, 0, 12, 0);
    return wavStateOf(header.subarray(0, bytesRead), fileSize);
  } finally {
    await fh.close();
  }
}
