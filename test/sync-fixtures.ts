/** Real WAV files for the sync tests and benchmark, written in pieces so 100 MB costs no 100 MB buffer. */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename } from "node:fs/promises";
import path from "node:path";

/** A 44-byte PCM header (16-bit stereo, 44.1 kHz) for `dataBytes` of samples. */
export function wavHeader(dataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  h.write("RIFF", 0, "latin1");
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write("WAVE", 8, "latin1");
  h.write("fmt ", 12, "latin1");
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(2, 22);
  h.writeUInt32LE(44_100, 24);
  h.writeUInt32LE(44_100 * 4, 28);
  h.writeUInt16LE(4, 32);
  h.writeUInt16LE(16, 34);
  h.write("data", 36, "latin1");
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/**
 * Write a WAV file of about `bytes` bytes of noise, under a hidden name
 * first and then renamed, so it appears whole. Returns its SHA-256 (hex).
 */
export async function writeWav(file: string, bytes: number): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  const dataBytes = Math.max(4, bytes - 44) & ~3;
  const temp = path.join(path.dirname(file), `.writing-${randomBytes(4).toString("hex")}`);
  const fh = await open(temp, "w");
  const hash = createHash("sha256");
  try {
    const header = wavHeader(dataBytes);
    hash.update(header);
    await fh.write(header);
    const piece = randomBytes(Math.min(dataBytes, 1 << 20));
    for (let left = dataBytes; left > 0; left -= piece.length) {
      const part = left >= piece.length ? piece : piece.subarray(0, left);
      // Vary each megabyte so chunks are not all alike.
      part.writeUInt32LE(left >>> 0, 0);
      hash.update(part);
      await fh.write(part);
    }
  } finally {
    await fh.close();
  }
  await rename(temp, file);
  return hash.digest("hex");
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export async function sha256OrUndefined(file: string): Promise<string | undefined> {
  return sha256Of(file).catch(() => undefined);
}

export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

/** The peak resident memory of a process in MiB (Linux: VmHWM); throws when it cannot be read. */
export async function peakRssMiB(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, "utf8");
  const m = /VmHWM:\s+(\d+) kB/.exec(text);
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}
