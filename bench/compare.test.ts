import { computeRatios } from "./compare";
import type { BenchResults, CompareResults, LargePhaseResult } from "./result-types";

// --compare's ratios pair each MiniS3 row with the peer's row of the same workload: the multipart
// upload with the peer's multipart upload, never with its plain PUT.

const large = (uploadMBps: number, retrieveMBps: number, serverCpuMsPerMiB: number) =>
  ({ upload: { mbPerSec: uploadMBps }, retrieve: { mbPerSec: retrieveMBps }, serverCpuMsPerMiB }) as LargePhaseResult;

test("large-s3-multipart is divided by the peer's multipart row, large-s3 by its plain one", () => {
  const compare: CompareResults = {
    peer: "s3rver 3.7.1",
    url: "",
    ratios: {},
    large: large(200, 400, 10),
    largeMultipart: large(100, 400, 20),
  };
  const r = { largeS3: large(100, 200, 20), largeS3Multipart: large(150, 200, 20), compare, errors: [] } as unknown as BenchResults;
  computeRatios(r, compare);
  expect(compare.ratios["large-s3"]).toEqual({ vs: "s3rver 3.7.1 large", uploadMBps: 0.5, retrieveMBps: 0.5, serverCpuMsPerMiB: 2 });
  expect(compare.ratios["large-s3-multipart"]).toEqual({
    vs: "s3rver 3.7.1 largeMultipart",
    uploadMBps: 1.5,
    retrieveMBps: 0.5,
    serverCpuMsPerMiB: 1,
  });
});

test("without the peer's multipart row there is no multipart ratio", () => {
  const compare: CompareResults = { peer: "s3rver", url: "", ratios: {}, large: large(200, 400, 10) };
  computeRatios({ largeS3Multipart: large(150, 200, 20), compare, errors: [] } as unknown as BenchResults, compare);
  expect(compare.ratios).toEqual({});
});
