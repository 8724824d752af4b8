/**
 * Errors that cross the wire: a stable code, a readable message, and whether
 * trying again (possibly at another node) can help.
 */
export const ErrorCodes = [
  "BAD_JSON",
  "BAD_REQUEST",
  "TOO_LARGE",
  "NOT_FOUND",
  "NO_ROOM",
  "SPAWN_FAILED",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "RATE_LIMITED",
  "UNAVAILABLE",
  "TIMEOUT",
  "INTERNAL",
] as const;
export type ErrorCode = (typeof ErrorCodes)[number];

const retryableCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "NO_ROOM",
  "UNAVAILABLE",
  "TIMEOUT",
  "RATE_LIMITED",
]);

export class ChorusError extends Error {
  override name = "ChorusError";
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.retryable = retryableCodes.has(code);
  }
}

/** The error part of a reply body, as it travels. */
export interface WireError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof ChorusError) {
    return { code: err.code, message: err.message, retryable: err.retryable };
  }
  return { code: "INTERNAL", message: "internal error", retryable: false };
}

export function fromWireError(wire: WireError): ChorusError {
  const code = (ErrorCodes as readonly string[]).includes(wire.code) ? wire.code : "INTERNAL";
  return new ChorusError(code, String(wire.message));
}
