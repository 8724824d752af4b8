/**
 * The one framing of binary messages (audio chunks, relay frames): a 4-byte
 * big-endian length, a JSON header of that length, an optional fixed-size
 * tag (a relay frame's signature), then the payload exactly as it is.
 */
const maxHeaderBytes = 64 * 1024;

export function encodeFrame(header: unknown, payload: Uint8Array, tag?: Uint8Array): Uint8Array {
  return encodeFrameJson(Buffer.from(JSON.stringify(header)), payload, tag);
}

/** The same, for a header already turned into JSON (a signature covers those bytes). */
export function encodeFrameJson(json: Buffer, payload: Uint8Array, tag?: Uint8Array): Uint8Array {
  const tagBytes = tag?.length ?? 0;
  const out = Buffer.allocUnsafe(4 + json.length + tagBytes + payload.length);
  out.writeUInt32BE(json.length, 0);
  json.copy(out, 4);
  if (tag) out.set(tag, 4 + json.length);
  out.set(payload, 4 + json.length + tagBytes);
  return out;
}

export interface Frame {
  /** The header's JSON text, as sent (a signature covers these bytes). */
  json: Buffer;
  tag: Buffer;
  payload: Buffer;
}

/** Split a frame into its parts; throws a readable Error when it does not hold together. */
export function splitFrame(data: Uint8Array, tagBytes = 0): Frame {
  if (data.length < 4 + tagBytes) throw new Error("frame too short");
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const length = buf.readUInt32BE(0);
  if (length > maxHeaderBytes || 4 + length + tagBytes > buf.length) {
    throw new Error("frame header runs past the message");
  }
  return {
    json: buf.subarray(4, 4 + length),
    tag: buf.subarray(4 + length, 4 + length + tagBytes),
    payload: buf.subarray(4 + length + tagBytes),
  };
}

/** A frame whose header is parsed as JSON (the caller checks its shape). */
export function decodeJsonFrame<H>(data: Uint8Array, tagBytes = 0): Frame & { header: H } {
  const frame = splitFrame(data, tagBytes);
  return { ...frame, header: JSON.parse(frame.json.toString("utf8")) as H };
}
