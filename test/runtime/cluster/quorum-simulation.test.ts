import { describe, expect, it } from 'vitest';
import { Simulation } from './simulation.ts';

/** Drives one seeded run: client appends throughout, faults for most of it, then a calm end. */
async function runScenario(seed: number, voters: number, faults: boolean, network = { lossRate: 0.05, delayMsMax: 8, smallFetches: true }): Promise<Simulation> {
  // Odd seeds fetch one batch at a time, so a lagging follower catches up over many fetches
  // and old-epoch batches reach a majority before the new leader's first batch does.
  const quorum = { fetchMaxBytes: network.smallFetches && seed % 2 === 1 ? 100 : 4096 };
  const sim = new Simulation({ seed, voters, lossRate: faults ? network.lossRate : 0, delayMsMax: network.delayMsMax, quorum });
  const faultEndMs = 8_000;
  const endMs = 12_000;
  let counter = 0;
  for (let t = 400; t < endMs - 1_500; t += 5 + Math.floor(sim.random() * 40)) {
    sim.at(t, () => sim.appendValue(`s${seed}-v${counter++}`));
  }
  if (faults) {
    for (let t = 500; t < faultEndMs; t += 300 + Math.floor(sim.random() * 700)) {
      const kind = sim.random();
      const victim = 1 + Math.floor(sim.random() * voters);
      const downMs = 100 + Math.floor(sim.random() * 1_200);
      if (kind < 0.4) {
        sim.at(t, () => sim.crash(victim));
        sim.at(t + downMs, () => sim.restart(victim));
      } else if (kind < 0.6) {
        // Crash whoever leads right now: the case that loses data when commitment is wrong.
        sim.at(t, () => {
          const leader = sim.activeLeaders()[0];
          if (leader === undefined) return;
          sim.crash(leader.id);
          sim.at(t + downMs, () => sim.restart(leader.id));
        });
      } else {
        const split = sim.random();
        sim.at(t, () => sim.partition((id) => (sim.random() < split ? 1 : 0) + (id === victim ? 2 : 0)));
        sim.at(t + downMs, () => sim.heal());
      }
    }
    sim.at(faultEndMs, () => {
      sim.heal();
      for (const node of sim.nodes) sim.restart(node.id);
    });
  }
  sim.at(faultEndMs + 1, () => {
    sim.lossRate = 0;
  });
  await sim.run(endMs);
  return sim;
}

function expectConverged(sim: Simulation): void {
  sim.checkLogMatching();
  const leaders = sim.activeLeaders();
  expect(leaders).toHaveLength(1);
  const leader = leaders[0]!.core!;
  for (const node of sim.nodes) {
    expect(node.core!.epoch).toBe(leader.epoch);
    expect(node.core!.highWatermark).toBe(leader.logEndOffset);
    expect(node.core!.logEndOffset).toBe(leader.logEndOffset);
  }
  const applied = sim.checkStateMachines();
  expect(new Set(applied).size).toBe(applied.length);
  const position = new Map(applied.map((value, index) => [value, index]));
  for (const value of sim.acknowledged.keys()) expect(position.has(value), `acknowledged ${value} is committed`).toBe(true);
  for (const node of sim.nodes) expect(node.applied).toEqual(applied);
}

describe('metadata quorum simulation', () => {
  it('elects one leader and replicates without faults', async () => {
    const sim = await runScenario(1, 3, false);
    expectConverged(sim);
    expect(sim.leaders.size).toBe(1);
    expect(sim.acknowledged.size).toBeGreaterThan(200);
  });

  it('keeps every safety property across 40 seeds of crashes, partitions and loss (3 voters)', async () => {
    let acknowledged = 0;
    let elections = 0;
    for (let seed = 100; seed < 140; seed += 1) {
      const sim = await runScenario(seed, 3, true);
      expectConverged(sim);
      acknowledged += sim.acknowledged.size;
      elections += sim.leaders.size;
    }
    // The faults must have done something: many leaders over the runs, and progress despite them.
    expect(elections).toBeGreaterThan(80);
    expect(acknowledged).toBeGreaterThan(40 * 50);
  });

  it('keeps every safety property on a slow, lossy network (20 seeds, delays up to 60 ms, 15% loss)', async () => {
    // Delays stay below a quarter of the fetch timeout (300 ms): the bound the leader lease assumes.
    // Fetches carry many batches, so that a restarted voter catches up within the calm end.
    for (let seed = 900; seed < 920; seed += 1) {
      const sim = await runScenario(seed, 3, true, { lossRate: 0.15, delayMsMax: 60, smallFetches: false });
      expectConverged(sim);
    }
  });

  it('keeps every safety property across 15 seeds with 5 voters', async () => {
    for (let seed = 500; seed < 515; seed += 1) {
      const sim = await runScenario(seed, 5, true);
      expectConverged(sim);
    }
  });
});
