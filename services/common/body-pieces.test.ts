import { inService, requireCompiled } from "../../test/support/in-service";
import { ARRAY_BUFFER_TRANSFER_ARGS, RUNTIME_ARGS } from "../../deploy/launcher/plan";
import { bodyBytesFreed, FREES_BODY_PIECES, freeBodyPiece, ownBodyPiece } from "./body-pieces";

// The freeing itself is checked in a child process run with the launcher's flags (in-service.ts),
// against node:http's own body pieces.

describe("body pieces freed as they are used", () => {
  test("the launcher gives this Node what it needs for it (the flag on Node 20, nothing where it is built in)", () => {
    // FREES_BODY_PIECES here is whether jest's own Node has transfer built in.
    expect(RUNTIME_ARGS).toEqual(FREES_BODY_PIECES ? [] : ARRAY_BUFFER_TRANSFER_ARGS);
    expect(inService(`console.log(JSON.stringify({ t: typeof ArrayBuffer.prototype.transfer }))`).t).toBe("function");
  });

  test("node:http's pieces of a request body, marked as read, are freed once used; nothing else is", () => {
    const got = inService(`
      const http = require("node:http");
      const { ownBodyPiece, freeBodyPiece, bodyBytesFreed, FREES_BODY_PIECES } = ${requireCompiled("services/common/body-pieces.js")};
      const server = http.createServer(async (req, res) => {
        const pieces = [];
        for await (const piece of req) pieces.push(ownBodyPiece(piece));
        const bytes = pieces.reduce((n, p) => n + p.length, 0);
        const before = process.memoryUsage().arrayBuffers;
        const copy = Buffer.concat(pieces); // the bytes used on, as a join would
        for (const p of pieces) freeBodyPiece(p);
        const freedMemory = before + copy.length - process.memoryUsage().arrayBuffers;
        // Not the only view of their memory, or not marked: left alone.
        const pooled = ownBodyPiece(Buffer.from("a pooled buffer's slice"));
        const slice = ownBodyPiece(Buffer.alloc(65536, 7)).subarray(1);
        ownBodyPiece(slice);
        const unmarked = Buffer.alloc(65536, 9);
        for (const b of [pooled, slice, unmarked]) freeBodyPiece(b);
        res.end(JSON.stringify({
          FREES_BODY_PIECES, bytes, pieces: pieces.length, emptied: pieces.every((p) => p.length === 0),
          copyIntact: copy.every((b) => b === 5), freedMemory, counted: bodyBytesFreed(),
          leftAlone: pooled.toString() === "a pooled buffer's slice" && slice.length === 65535 && slice[0] === 7 && unmarked.length === 65536,
        }));
        server.close();
      });
      server.listen(0, "127.0.0.1", () => {
        const req = http.request({ port: server.address().port, host: "127.0.0.1", method: "PUT" }, (res) => {
          let text = ""; res.setEncoding("utf8"); res.on("data", (t) => (text += t)); res.on("end", () => console.log(text));
        });
        const chunk = Buffer.alloc(1024 * 1024, 5);
        for (let i = 0; i < 8; i++) req.write(chunk);
        req.end();
      });
    `);
    expect(got.FREES_BODY_PIECES).toBe(true);
    expect(got.bytes).toBe(8 * 1024 * 1024);
    expect(got.pieces).toBeGreaterThan(8); // socket reads of up to 64 KiB
    expect(got.emptied).toBe(true);
    expect(got.copyIntact).toBe(true);
    expect(got.counted).toBe(8 * 1024 * 1024);
    // The memory went with them, not at some later collection.
    expect(got.freedMemory).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    expect(got.leftAlone).toBe(true);
  });

  test("a piece cut into slices (an aws-chunked body's data) is freed once its last slice has been, not before", () => {
    const got = inService(`
      const { ownBodyPiece, freeBodyPiece, shareBodyPiece, bodyBytesFreed } = ${requireCompiled("services/common/body-pieces.js")};
      const piece = ownBodyPiece(Buffer.alloc(65536, 4));
      const slices = [piece.subarray(8, 30000), piece.subarray(30010)]; // framing cut out between them
      shareBodyPiece(piece, slices);
      freeBodyPiece(slices[0]);
      freeBodyPiece(slices[0]); // freed twice: still one slice
      const afterOne = { pieceKept: piece.length === 65536 && piece[0] === 4, otherSliceIntact: slices[1].every((b) => b === 4), counted: bodyBytesFreed() };
      freeBodyPiece(slices[1]);
      const framing = ownBodyPiece(Buffer.alloc(64, 1)); // a read that was all framing: nothing goes on
      shareBodyPiece(framing, []);
      const whole = ownBodyPiece(Buffer.alloc(4096, 2)); // a read that was all data goes on as itself
      shareBodyPiece(whole, [whole]);
      const wholeKept = whole.length;
      freeBodyPiece(whole);
      const unmarked = Buffer.alloc(4096, 3);
      shareBodyPiece(unmarked, [unmarked.subarray(1)]);
      freeBodyPiece(unmarked.subarray(1));
      console.log(JSON.stringify({ afterOne, pieceFreed: piece.length === 0, framingFreed: framing.length === 0, wholeKept,
        wholeFreed: whole.length === 0, unmarkedKept: unmarked.length === 4096, counted: bodyBytesFreed() }));
    `);
    expect(got.afterOne).toEqual({ pieceKept: true, otherSliceIntact: true, counted: 0 });
    expect(got).toMatchObject({ pieceFreed: true, framingFreed: true, wholeKept: 4096, wholeFreed: true, unmarkedKept: true });
    expect(got.counted).toBe(65536 + 64 + 4096);
  });

  test("without ArrayBuffer.prototype.transfer (jest's Node 20) nothing is freed and nothing breaks", () => {
    if (FREES_BODY_PIECES) return; // a Node with it built in: the child process above covers it
    const piece = ownBodyPiece(Buffer.alloc(65536, 3));
    freeBodyPiece(piece);
    expect(piece.length).toBe(65536);
    expect(piece[100]).toBe(3);
    expect(bodyBytesFreed()).toBe(0);
  });
});
