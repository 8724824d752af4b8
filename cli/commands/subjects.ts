/** `chorus subjects`: the subject table (the README's copy is checked against it). */
import { subjectTable } from "../../wire/subjects.js";
import type { Command } from "../command.js";
import { json } from "../output.js";

export function subjectTableMarkdown(): string {
  const rows = subjectTable.map(
    (r) => `| \`${r.subject}\` | ${r.kind} | ${r.publishers} | ${r.listeners} | ${r.what} |`,
  );
  return [
    "| subject | type | published by | listened to by | what |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

export const subjectsCommand: Command = {
  name: "subjects",
  summary: "print the table of chorus.* subjects (markdown, or --json)",
  usage: "Usage: chorus subjects [--json]",
  options: { json: { type: "boolean" } },
  async run(flags) {
    process.stdout.write(flags.json ? json([...subjectTable]) : subjectTableMarkdown() + "\n");
    return 0;
  },
};
