// swc instead of ts-jest: 3x faster; `npm test` runs tsc first, so types are still checked.
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/services", "<rootDir>/test", "<rootDir>/bench", "<rootDir>/cli"],
  testMatch: ["**/*.test.ts"],
  // The chaos suite has its own run (`npm run test:chaos`, jest.chaos.config.js): minutes of faults.
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/chaos/"],
  testTimeout: 60000,
  // content-disposition 3 (under @fastify/static, the web console) is ESM only: Node 20.19 require()s
  // it natively, jest's module loader does not, so swc turns it into CommonJS like our own code.
  transformIgnorePatterns: ["/node_modules/(?!content-disposition/)"],
  transform: {
    "^.+\\.(t|j)sx?$": [
      "@swc/jest",
      {
        jsc: {
          parser: { syntax: "typescript", decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
          target: "es2022",
        },
        module: { type: "commonjs" },
        sourceMaps: "inline",
      },
    ],
  },
};
