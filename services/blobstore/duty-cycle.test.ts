import { DutyCycle, type PaceClock } from "./duty-cycle";

/** A clock that moves only when told to (work) or when slept on (rest). */
class FakeClock implements PaceClock {
  t = 0;
  rested = 0;
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
    this.rested += ms;
  }
}

test("rests in proportion to the work between steps, so the work keeps its share of the time", async () => {
  const clock = new FakeClock();
  const pace = new DutyCycle(0.25, () => false, clock);
  for (let i = 0; i < 10; i++) {
    clock.t += 20; // 20 ms of work a piece
    await pace.step();
  }
  expect(clock.rested).toBe(600); // 3x the 200 ms of work: 25 %
});

test("pieces too short to rest after are counted until they add up; hurry rests no more", async () => {
  const clock = new FakeClock();
  let hurry = false;
  const pace = new DutyCycle(0.5, () => hurry, clock);
  clock.t += 2;
  await pace.step();
  expect(clock.rested).toBe(0); // 2 ms owed: carried
  clock.t += 4;
  await pace.step();
  expect(clock.rested).toBe(6);
  hurry = true;
  clock.t += 100;
  await pace.step();
  expect(clock.rested).toBe(6);
});
