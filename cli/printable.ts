/**
 * Text from others (song tags, user and host names, a host's presence, error
 * messages that quote them) on its way to a terminal: control characters,
 * escape sequences' introducers (C0, DEL, C1) and bidirectional overrides are
 * replaced, so a crafted WAV title cannot move the cursor, retitle the
 * window or reorder what the user reads.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const unprintable = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export const replacement = "\ufffd";

export function printable(text: string): string {
  return text.replace(unprintable, replacement);
}

/** What JSON.stringify leaves raw inside strings (it escapes C0 itself). */
const rawInJson = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON for scripts: the data stays exactly as it is, but characters a
 * terminal would act on are written as \u escapes.
 */
export function escapeForTerminal(json: string): string {
  return json.replace(rawInJson, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
