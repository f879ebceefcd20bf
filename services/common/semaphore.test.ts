import { Semaphore } from "./semaphore";

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("Semaphore", () => {
  test("never lets more than the limit run, and runs the waiters in arrival order", async () => {
    const s = new Semaphore(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const jobs = [0, 1, 2, 3, 4].map((i) =>
      s.run(async () => {
        running++;
        most = Math.max(most, running);
        order.push(i);
        await new Promise<void>((r) => gates.push(r));
        running--;
        return i;
      }),
    );
    await tick();
    expect(order).toEqual([0, 1]);
    while (gates.length) {
      gates.shift()!();
      await tick();
    }
    await tick();
    while (gates.length) {
      gates.shift()!();
      await tick();
    }
    await tick();
    while (gates.length) {
      gates.shift()!();
      await tick();
    }
    expect(await Promise.all(jobs)).toEqual([0, 1, 2, 3, 4]);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
    expect(s.inUse).toBe(0);
  });

  test("a holder that fails frees its slot", async () => {
    const s = new Semaphore(1);
    await expect(
      s.run(async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await s.run(async () => "next")).toBe("next");
    expect(s.inUse).toBe(0);
  });

  test("tryAcquire takes a free slot and never waits; a released slot goes to a waiter before it", async () => {
    const s = new Semaphore(1);
    expect(s.tryAcquire()).toBe(true);
    expect(s.tryAcquire()).toBe(false);
    let waited = false;
    const waiter = s.acquire().then(() => (waited = true));
    s.release(); // handed to the waiter
    await waiter;
    expect(waited).toBe(true);
    expect(s.tryAcquire()).toBe(false);
    s.release();
    expect(s.tryAcquire()).toBe(true);
    s.release();
    expect(s.inUse).toBe(0);
  });

  test("a waiter whose signal aborts leaves the queue holding nothing; the next waiter gets the slot", async () => {
    const s = new Semaphore(1);
    await s.acquire();
    const gone = new AbortController();
    const quitter = s.acquire(gone.signal);
    let next = false;
    const waiter = s.acquire().then(() => (next = true));
    expect(s.queued).toBe(2);
    gone.abort();
    await expect(quitter).rejects.toThrow("gave up waiting");
    expect(s.queued).toBe(1);
    expect(s.inUse).toBe(1); // still the first holder's, nothing freed by the quitter
    s.release(); // to the waiter behind, not to the one that left
    await waiter;
    expect(next).toBe(true);
    s.release();
    expect(s.inUse).toBe(0);
    await expect(s.acquire(gone.signal)).resolves.toBeUndefined(); // a free slot is taken even so
    await expect(s.acquire(gone.signal)).rejects.toThrow("gave up waiting"); // no wait for an aborted signal
    expect(s.queued).toBe(0);
  });
});

describe("Semaphore with weights (a budget of bytes)", () => {
  test("holders take what they ask for; a waiter that does not fit holds back the lighter ones behind it", async () => {
    const s = new Semaphore(100);
    expect(s.tryAcquire(60)).toBe(true);
    const order: string[] = [];
    const heavy = s.acquire(undefined, 50).then(() => order.push("heavy"));
    const light = s.acquire(undefined, 10).then(() => order.push("light"));
    expect(s.tryAcquire(10)).toBe(false); // 30 are free, but two wait before it
    await tick();
    expect(order).toEqual([]);
    s.release(60);
    await Promise.all([heavy, light]);
    expect(order).toEqual(["heavy", "light"]);
    expect(s.inUse).toBe(60);
    s.release(50);
    s.release(10);
    expect(s.inUse).toBe(0);
  });

  test("a heavier waiter that gives up lets the lighter ones behind it in", async () => {
    const s = new Semaphore(100);
    await s.acquire(undefined, 80);
    const gone = new AbortController();
    const heavy = s.acquire(gone.signal, 50);
    let light = false;
    const waiter = s.acquire(undefined, 20).then(() => (light = true));
    await tick();
    expect(light).toBe(false);
    gone.abort();
    await expect(heavy).rejects.toThrow("gave up waiting");
    await waiter;
    expect([light, s.inUse, s.queued]).toEqual([true, 100, 0]);
  });

  test("a weight over the limit takes the whole limit: it runs alone, never starves", async () => {
    const s = new Semaphore(100);
    expect(s.tryAcquire(500)).toBe(true);
    expect(s.inUse).toBe(100);
    expect(s.tryAcquire(1)).toBe(false);
    s.release(500);
    expect(s.inUse).toBe(0);
  });
});
