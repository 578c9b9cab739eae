import { describe, expect, it } from 'vitest';
import { Serdes } from '../../../../core/serdes/serde.ts';
import type { ChangelogRecord, ChangelogWriter, StateStoreContext } from '../../../../core/topology/processor.ts';
import type { Windowed } from '../../../../core/topology/windows.ts';
import { buildSessionStore } from '../../../../state/stores/builders.ts';
import { RocksDbSessionStore } from '../../../../state/stores/rocksdb/session.ts';
import type { SessionBytes } from '../../../../state/stores/rocksdb/session.ts';
import type { KeyValue } from '../../../../state/stores/types.ts';
import { rocksDbTaskPerTest, seededRandom } from './helpers.ts';

const task = rocksDbTaskPerTest('runnel-rocksdb-session-', ['sessions', 'restored']);

const bytes = (text: string): Uint8Array => Buffer.from(text);
const text = (value: Uint8Array): string => Buffer.from(value).toString();
const fromRocks = (sessions: readonly SessionBytes[]): string[] => sessions.map((session) => `${text(session.key)}@${session.startMs}-${session.endMs}=${text(session.value)}`);
const fromMemory = (sessions: readonly KeyValue<Windowed<string>, string>[]): string[] => sessions.map((entry) => `${entry.key.key}@${entry.key.window.startMs}-${entry.key.window.endMs}=${entry.value}`);

function memoryStore(retentionMs: number, changelog: ChangelogRecord[]) {
  const writer: ChangelogWriter = { send: (_topic, _partition, key, value) => void changelog.push({ key: new Uint8Array(key), value }) };
  const store = buildSessionStore({ name: 'sessions', logging: true, caching: false, retentionMs }, Serdes.string(), Serdes.string());
  const context: StateStoreContext = { applicationId: 'app', taskId: '0_0', partition: 0, changelogTopic: 'app-sessions-changelog', changelogWriter: writer, recordTimestampMs: () => 0 };
  store.init(context);
  return store;
}

/** Segment ids present on disk, from the first 8 bytes of every raw key. */
async function segmentsOnDisk(name: string): Promise<number[]> {
  const ids = new Set<number>();
  for (const entry of await task.store(name).all()) ids.add(Buffer.from(entry.key).readUInt32BE(4));
  return [...ids].sort((a, b) => a - b);
}

describe('RocksDbSessionStore', () => {
  it.each([1, 2, 3])('merges sessions like the in-memory store, across segments and retention (seed %i)', async (seed) => {
    const options = { retentionMs: 400, segmentIntervalMs: 100 };
    const gapMs = 30;
    const changelog: ChangelogRecord[] = [];
    const memory = memoryStore(options.retentionMs, changelog);
    const rocks = new RocksDbSessionStore('sessions', task.store('sessions'), options);
    const random = seededRandom(seed);
    let timeMs = 0;
    for (let step = 0; step < 300; step++) {
      // Time mostly advances and sometimes steps back, so late records merge into older sessions.
      timeMs = Math.max(0, timeMs + Math.floor(random() * 40) - 12);
      const key = `k${Math.floor(random() * 4)}${random() < 0.2 ? 'x' : ''}`;
      const found = memory.findSessions(key, timeMs - gapMs, timeMs + gapMs);
      expect(fromRocks(await rocks.findSessions(bytes(key), timeMs - gapMs, timeMs + gapMs))).toEqual(fromMemory(found));
      let startMs = timeMs;
      let endMs = timeMs;
      let value = `${step}`;
      for (const session of found) {
        startMs = Math.min(startMs, session.key.window.startMs);
        endMs = Math.max(endMs, session.key.window.endMs);
        value = `${session.value}+${value}`;
        memory.remove(session.key);
        rocks.remove(bytes(key), session.key.window.startMs, session.key.window.endMs);
      }
      memory.put({ key, window: { startMs, endMs } }, value);
      rocks.put(bytes(key), startMs, endMs, bytes(value));
      if (random() < 0.1) await rocks.flush();
      if (random() < 0.1) {
        const fromEndMs = Math.floor(random() * timeMs);
        const toEndMs = fromEndMs + Math.floor(random() * 300);
        expect(fromRocks(await rocks.findSessionsEndingWithin(fromEndMs, toEndMs))).toEqual(fromMemory(liveOnly(memory.findSessionsEndingWithin(fromEndMs, toEndMs), rocks.streamTimeMs, options)));
      }
    }
    await rocks.flush();
    const minLiveSegment = Math.floor(Math.max(0, rocks.streamTimeMs - options.retentionMs) / options.segmentIntervalMs);
    const onDisk = await segmentsOnDisk('sessions');
    expect(onDisk.length).toBeGreaterThan(0);
    expect(onDisk.every((id) => id >= minLiveSegment)).toBe(true);
    const everything = fromRocks(await rocks.findSessionsEndingWithin(0, Number.MAX_SAFE_INTEGER));
    expect(everything).toEqual(fromMemory(liveOnly(memory.findSessionsEndingWithin(0, Number.MAX_SAFE_INTEGER), rocks.streamTimeMs, options)));
    for (const key of ['k0', 'k1', 'k2x']) expect(fromRocks(await rocks.fetch(bytes(key)))).toEqual(fromMemory(memory.fetch(key)));

    // The changelog the in-memory store wrote restores into an equal RocksDB store.
    const restored = new RocksDbSessionStore('restored', task.store('restored'), options);
    await restored.applyBatch(changelog);
    await restored.flush();
    expect(fromRocks(await restored.findSessionsEndingWithin(0, Number.MAX_SAFE_INTEGER))).toEqual(everything);
    expect(restored.streamTimeMs).toBe(rocks.streamTimeMs);
  });

  it('fetches exact sessions, ignores keys that extend the key, drops puts into expired segments and resumes after reopen', async () => {
    const options = { retentionMs: 200, segmentIntervalMs: 100 };
    const store = new RocksDbSessionStore('sessions', task.store('sessions'), options);
    store.put(bytes('a'), 10, 50, bytes('1'));
    store.put(bytes('ab'), 20, 60, bytes('2'));
    store.put(bytes('a'), 90, 150, bytes('3'));
    store.put(bytes('a'), 260, 260, bytes('4'));
    expect(text((await store.fetchSession(bytes('a'), 90, 150)) ?? bytes('-'))).toBe('3');
    expect(await store.fetchSession(bytes('a'), 90, 151)).toBeNull();
    // Stream time 260 with retention 200: a@10-50 ended before 60, so it is no longer found, though
    // its segment (which also holds a@90-150) stays until every session in it has expired.
    expect(fromRocks(await store.fetch(bytes('a')))).toEqual(['a@90-150=3', 'a@260-260=4']);
    expect(text((await store.fetchSession(bytes('a'), 10, 50)) ?? bytes('-'))).toBe('1');
    await expect(async () => store.put(bytes('a'), 70, 60, bytes('x'))).rejects.toThrow(/after its end/);

    // Stream time 460 expires ends before 260: segment 0 and 1 go whole, segment 2 stays.
    store.put(bytes('b'), 460, 460, bytes('5'));
    expect(fromRocks(await store.fetch(bytes('a')))).toEqual(['a@260-260=4']);
    expect(await store.fetchSession(bytes('a'), 10, 50)).toBeNull();
    store.put(bytes('c'), 40, 80, bytes('late'));
    expect(store.droppedPuts).toBe(1);
    await store.flush();
    expect(await segmentsOnDisk('sessions')).toEqual([2, 4]);

    await task.reopen();
    const reopened = new RocksDbSessionStore('sessions', task.store('sessions'), options);
    await reopened.init();
    expect(reopened.streamTimeMs).toBe(460);
    expect(fromRocks(await reopened.findSessionsEndingWithin(0, 1_000))).toEqual(['a@260-260=4', 'b@460-460=5']);
    reopened.put(bytes('a'), 90, 150, bytes('late'));
    expect(reopened.droppedPuts).toBe(1);
  });
});

/** The in-memory store keeps expired sessions that the segmented store has dropped whole. */
function liveOnly(sessions: KeyValue<Windowed<string>, string>[], streamTimeMs: number, options: { retentionMs: number; segmentIntervalMs: number }): KeyValue<Windowed<string>, string>[] {
  const minLiveSegment = Math.floor(Math.max(0, streamTimeMs - options.retentionMs) / options.segmentIntervalMs);
  return sessions.filter((entry) => Math.floor(entry.key.window.endMs / options.segmentIntervalMs) >= minLiveSegment);
}
