import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".chorus/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      // A floating promise in a handler is how an actor silently loses work.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
    },
    languageOptions: { parserOptions: { projectService: true } },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
  {
    // The web player runs in the browser (no build step).
    files: ["actors/gateway/web/**/*.js"],
    languageOptions: {
      sourceType: "module",
      globals: Object.fromEntries(
        ["document", "sessionStorage", "localStorage", "location", "fetch", "URLSearchParams"].map(
          (name) => [name, "readonly"],
        ),
      ),
    },
  },
);
