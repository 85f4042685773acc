// typescript-eslint's recommended rules on the TypeScript sources, tests and bench;
// formatting is Prettier's job (`npm run format`), so no style rules here.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["nodes/**", "node_modules/**", "bench/results/**", "test-artifacts/**", ".demo/**"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      // Node-RED's API hands out loosely typed objects; an explicit `any` at that border says so.
      "@typescript-eslint/no-explicit-any": "off",
      // A getter built before the value it returns (the emulator wires its modules this way) reads it later.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
    },
  },
  {
    // Node-RED's own idiom: a node constructor keeps `this` as `node` for the handlers it registers.
    files: ["src/*.ts"],
    rules: { "@typescript-eslint/no-this-alias": ["error", { allowedNames: ["node"] }] },
  },
  {
    // Tests load the built node modules the way Node-RED does, with require(); scripts are CommonJS.
    files: ["test/**/*.ts", "bench/**/*.ts", "**/*.js"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
