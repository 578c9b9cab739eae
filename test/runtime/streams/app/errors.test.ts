// Error handling on a real broker: a processor that throws reaches the uncaught-error handler and
// the application ends in ERROR; a record that cannot be deserialized is skipped with
// log-and-continue, and stops the application with fail (Kafka Streams' default).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Serdes, StreamsBuilder } from '../../../../dsl/index.ts';
import { StreamsApp, type StreamsState } from '../../../../runtime/streams/app/index.ts';
import { cleanup, startBroker, temporaryDirectory, type BrokerProcess } from '../../../helpers/broker.ts';
import { createTopics, produceRecords, waitFor } from '../../../helpers/streams.ts';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
  await createTopics(broker.bootstrap, [{ topic: 'poison-in', partitions: 1 }, { topic: 'numbers-in', partitions: 1 }]);
});

afterAll(async () => {
  await cleanup();
});

function numbersApp(applicationId: string, handler: 'log-and-continue' | 'fail'): StreamsApp {
  const builder = new StreamsBuilder();
  // Values are 8-byte longs; the test also writes text, which the long serde cannot read.
  builder.stream('numbers-in', { key: Serdes.string(), value: Serdes.long() }).groupByKey().count({ name: `${applicationId}-counts` });
  return new StreamsApp(builder.build(), {
    'application.id': applicationId, 'bootstrap.servers': broker.bootstrap, 'state.dir': temporaryDirectory('runnel-streams-errors-'),
    'commit.interval.ms': 100, 'default.deserialization.exception.handler': handler,
  });
}

describe('StreamsApp error handling', () => {
  it('hands a processing error to the uncaught-error handler and ends in ERROR', async () => {
    const builder = new StreamsBuilder();
    const seen: string[] = [];
    builder.stream('poison-in', { key: Serdes.string(), value: Serdes.string() }).foreach((value) => {
      if (value === 'poison') throw new Error('cannot digest poison');
      seen.push(value);
    });
    const app = new StreamsApp(builder.build(), { 'application.id': 'poison-app', 'bootstrap.servers': broker.bootstrap, 'state.dir': temporaryDirectory('runnel-streams-errors-') });
    const errors: Error[] = [];
    const states: StreamsState[] = [];
    app.onStateChange((next) => states.push(next));
    app.setUncaughtErrorHandler((error) => {
      errors.push(error);
      return 'shutdown-client';
    });
    await produceRecords(broker.bootstrap, 'poison-in', [{ key: 'a', value: 'bread' }, { key: 'b', value: 'poison' }, { key: 'c', value: 'water' }]);
    await app.start();
    await waitFor(() => app.state === 'ERROR', 'the application to stop in ERROR');
    expect(errors.map((error) => error.message)).toEqual(['cannot digest poison']);
    expect(seen).toEqual(['bread']);
    expect(states.slice(-2)).toEqual(['PENDING_ERROR', 'ERROR']);
    await app.close();
    expect(app.state).toBe('ERROR');
  });

  it('skips undeserializable records with log-and-continue and stops on them with fail', async () => {
    const long = (value: number): Buffer => Buffer.from(Serdes.long().serialize(value, 'numbers-in'));
    await produceRecords(broker.bootstrap, 'numbers-in', [{ key: 'k', value: long(1) }, { key: 'k', value: 'not a long' }, { key: 'k', value: long(2) }]);
    const tolerant = numbersApp('tolerant-numbers', 'log-and-continue');
    try {
      await tolerant.start();
      const store = tolerant.keyValueStore<string, number>('tolerant-numbers-counts');
      await waitFor(() => store.get('k') === 2, 'the two good records to be counted');
      expect(tolerant.state).toBe('RUNNING');
    } finally {
      await tolerant.close();
    }
    const strict = numbersApp('strict-numbers', 'fail');
    await strict.start();
    await waitFor(() => strict.state === 'ERROR', 'the strict application to stop');
    await strict.close();
  });
});
