// The streams application's consumer group as Kafka's tools see it: protocol type "consumer"
// (so the assignment decodes), protocol runnel-streams, every input partition assigned, offsets
// committed by the member, and the group empty once the application has closed (it left).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Serdes, StreamsBuilder } from '../../../../dsl/index.ts';
import { Admin } from '../../../../runtime/client/index.ts';
import { StreamsApp } from '../../../../runtime/streams/app/index.ts';
import { cleanup, startBroker, temporaryDirectory, type BrokerProcess } from '../../../helpers/broker.ts';
import { createTopics, produceRecords, TopicReader, waitFor } from '../../../helpers/streams.ts';

let broker: BrokerProcess;
beforeAll(async () => { broker = await startBroker(); });
afterAll(cleanup);

describe('the streams consumer group', () => {
  it('is a consumer group with protocol runnel-streams that Kafka tools describe, and is left on close', async () => {
    await createTopics(broker.bootstrap, [{ topic: 'group-input', partitions: 2 }, { topic: 'group-output', partitions: 2 }]);
    const builder = new StreamsBuilder();
    builder.stream('group-input', { key: Serdes.string(), value: Serdes.string() }).mapValues((value) => value.toUpperCase()).to('group-output', { key: Serdes.string(), value: Serdes.string() });
    const app = new StreamsApp(builder.build(), { 'application.id': 'group-app', 'bootstrap.servers': broker.bootstrap, 'state.dir': temporaryDirectory('runnel-streams-group-'), 'commit.interval.ms': 100 });
    const admin = new Admin({ bootstrapServers: broker.bootstrap });
    const reader = new TopicReader(broker.bootstrap, 'group-output', 2);
    try {
      await app.start();
      await app.waitUntilRunning();
      await produceRecords(broker.bootstrap, 'group-input', Array.from({ length: 20 }, (_, index) => ({ key: `k${index}`, value: `v${index}` })));
      await waitFor(async () => (await reader.poll()).length >= 20, 'every record on the output topic');
      await waitFor(async () => {
        const offsets = await admin.fetchGroupOffsets('group-app', ['group-input']);
        return offsets.reduce((sum, entry) => sum + (entry.offset > 0n ? entry.offset : 0n), 0n) === 20n;
      }, 'the input offsets committed');
      const [group] = await admin.describeGroups(['group-app']);
      expect(group).toMatchObject({ protocolType: 'consumer', protocol: 'runnel-streams', state: 'Stable' });
      expect(group?.members).toHaveLength(1);
      expect(group?.members[0]?.assignment).toEqual([{ topic: 'group-input', partitions: [0, 1] }]);
    } finally {
      await reader.close();
      await app.close();
    }
    const [after] = await admin.describeGroups(['group-app']);
    expect(after?.members).toHaveLength(0);
    expect(after?.state).toBe('Empty');
    await admin.close();
  });
});
