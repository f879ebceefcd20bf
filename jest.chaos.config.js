// `npm run test:chaos`: only the chaos suite (test/chaos/), which `npm test` leaves out.
const base = require("./jest.config.js");

module.exports = {
  ...base,
  roots: ["<rootDir>/test/chaos"],
  testPathIgnorePatterns: ["/node_modules/"],
  testTimeout: 420000,
};
