import type { ObjectView } from "../../objects/object-engine";
import { lastModified } from "./object-headers";

// Last-Modified is the HTTP date of the object's creation, whole seconds (kept by second: each
// object gets its own second's text, however many were made before it).
test("Last-Modified: each object's own second, the same text for any millisecond of it", () => {
  const at = (createdAtMs: number) => lastModified({ createdAtMs } as ObjectView);
  const base = Date.UTC(2026, 11, 7, 13, 5, 9);
  expect(at(base)).toBe("Mon, 07 Dec 2026 13:05:09 GMT");
  expect(at(base + 999)).toBe("Mon, 07 Dec 2026 13:05:09 GMT");
  expect(at(base + 1000)).toBe("Mon, 07 Dec 2026 13:05:10 GMT");
  expect(at(0)).toBe("Thu, 01 Jan 1970 00:00:00 GMT");
  for (let i = 0; i < 200; i++) expect(at(base + i * 1000)).toBe(new Date(base + i * 1000).toUTCString());
  expect(at(base + 999)).toBe("Mon, 07 Dec 2026 13:05:09 GMT");
});
