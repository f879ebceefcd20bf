import Fastify from "fastify";
import { Agent, request } from "undici";
import { drainOnClose } from "./http-drain";

// A stop while a keep-alive client has a request in flight: close() must not wait for that client
// to drop its connection (it keeps it open, idle, for as long as the server advertises).

describe("drainOnClose", () => {
  async function serve(drainMs: number) {
    const app = Fastify();
    drainOnClose(app, drainMs);
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    app.get("/slow", async () => {
      started();
      await new Promise((r) => setTimeout(r, 300));
      return { ok: true };
    });
    app.get("/endless", (_req, reply) => {
      started();
      reply.raw.writeHead(200);
      reply.raw.write("a first part, and never the rest");
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as { port: number };
    // A client that keeps idle connections for a minute, as undici does when the server says 72 s.
    const agent = new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 });
    return { app, agent, inFlight, url: `http://127.0.0.1:${port}` };
  }

  it("closes a keep-alive connection once the request in flight at close() is answered", async () => {
    const { app, agent, inFlight, url } = await serve(10_000);
    const answer = request(`${url}/slow`, { dispatcher: agent }).then(async (r) => ({ status: r.statusCode, body: await r.body.json() }));
    await inFlight;
    const closing = Date.now();
    await app.close();
    expect(Date.now() - closing).toBeLessThan(2_000);
    expect(await answer).toEqual({ status: 200, body: { ok: true } });
    await agent.close();
  });

  it("cuts a request still running after the drain time", async () => {
    const { app, agent, inFlight, url } = await serve(500);
    const answer = request(`${url}/endless`, { dispatcher: agent }).then((r) => r.body.text());
    await inFlight;
    const closing = Date.now();
    await app.close();
    const took = Date.now() - closing;
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(2_000);
    await expect(answer).rejects.toThrow();
    await agent.close();
  });
});
