// ESLint (flat config): typescript-eslint's recommended set, without type information so a run
// over the whole tree stays quick. Every rule changed below says why in one line.
const js = require("@eslint/js");
const globals = require("globals");
const tseslint = require("typescript-eslint");

module.exports = tseslint.config(
  // Generated protobuf code is checked by `npm run proto:check` instead; the rest is output.
  { ignores: ["dist/", "node_modules/", "services/rpc/gen/", "bench/results/", "coverage/"] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: "commonjs", globals: globals.node },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // `let x; const stop = () => x?.stop(); x = await start();`: a handler set up before the value exists.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
      // `r.ok ? stats.ok(ms) : stats.fail(reason)` is how the bench records an outcome.
      "@typescript-eslint/no-unused-expressions": ["error", { allowTernary: true }],
    },
  },
  {
    files: ["**/*.js"],
    rules: {
      // Plain .js files here are CommonJS (configs, the test stub process): require is how they import.
      "@typescript-eslint/no-require-imports": "off",
    },
  },
  {
    // The web console: ES modules run by the browser as written (no build step).
    files: ["console/**/*.js"],
    languageOptions: { sourceType: "module", globals: globals.browser },
  },
);
