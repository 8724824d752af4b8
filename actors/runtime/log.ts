/**
 * Structured logs on stderr: one line per event, readable by default
 * (`12:00:01.234 info  prime/prime-ab12 registry: node added id=auth-1`),
 * JSON lines when CHORUS_LOG=json. Secrets must never be passed as fields.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | null | undefined>;

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(name: string): Logger;
}

function threshold(): number {
  const level = process.env.CHORUS_LOG_LEVEL as LogLevel | undefined;
  return level && level in order ? order[level] : order.info;
}

function quote(value: unknown): string {
  const s = String(value);
  return /^[^\s="]+$/.test(s) ? s : JSON.stringify(s);
}

export function createLogger(name: string): Logger {
  const json = process.env.CHORUS_LOG === "json";
  const min = threshold();
  const write = (level: LogLevel, msg: string, fields: LogFields = {}): void => {
    if (order[level] < min) return;
    const time = new Date();
    if (json) {
      process.stderr.write(
        JSON.stringify({ time: time.toISOString(), level, name, msg, ...fields }) + "\n",
      );
      return;
    }
    const extra = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${quote(v)}`)
      .join(" ");
    const clock = time.toISOString().slice(11, 23);
    process.stderr.write(`${clock} ${level.padEnd(5)} ${name} ${msg}${extra ? " " + extra : ""}\n`);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (sub) => createLogger(`${name}/${sub}`),
  };
}
