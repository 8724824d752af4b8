import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { settings } from "../actors/runtime/config.js";
import { subjectTableMarkdown } from "../cli/commands/subjects.js";
import { repoRoot } from "../harness/system.js";

const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");

/** Table rows as trimmed cells, so Prettier's column padding doesn't matter. */
function cells(markdown: string): string[][] {
  return markdown
    .trim()
    .split("\n")
    .filter((line) => !/^\|[\s|:-]+\|$/.test(line))
    .map((line) => line.split("|").map((c) => c.trim()));
}

describe("README", () => {
  it("holds the subject table exactly as `chorus subjects` prints it", () => {
    const start = readme.indexOf("<!-- subjects:start -->");
    const end = readme.indexOf("<!-- subjects:end -->");
    expect(start, "subject table markers").to.be.greaterThan(-1);
    const inReadme = readme.slice(start, end).split("\n").slice(1).join("\n");
    expect(cells(inReadme)).to.deep.equal(cells(subjectTableMarkdown()));
  });

  it("documents every setting's environment variable", () => {
    for (const s of settings) expect(readme, s.env).to.include(s.env);
  });
});
