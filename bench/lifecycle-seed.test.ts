import { shapeDiffs, type ObjectShape } from "./lifecycle-seed";

// The check that keeps the lifecycle bench honest must see every way a seeded object could differ.

const upload: ObjectShape = {
  row: { bucket: "default", size: 4096, state: "live", tier: "hot", gen: 0, fresh: 1 },
  atHome: true,
  blobs: [
    { size: 4096, attributes: {} },
    { size: 4096, attributes: {} },
  ],
};

describe("shapeDiffs", () => {
  it("finds nothing between equal shapes", () => {
    expect(shapeDiffs(upload, structuredClone(upload))).toEqual([]);
  });

  it("names a column that differs, replicas away from home, a blob that differs, a missing row", () => {
    expect(shapeDiffs(upload, { ...upload, row: { ...upload.row, gen: 1 } })).toEqual(["gen: upload 0, seeded 1"]);
    expect(shapeDiffs(upload, { ...upload, atHome: false })).toEqual(["replicas at home: upload true, seeded false"]);
    expect(shapeDiffs(upload, { ...upload, blobs: [upload.blobs[0], { size: 4096, attributes: { key: "k" } }] })).toHaveLength(1);
    expect(shapeDiffs(upload, { ...upload, blobs: [upload.blobs[0]] })).toHaveLength(1);
    expect(shapeDiffs(upload, null)).toEqual(["row missing: upload true, seeded false"]);
  });
});
