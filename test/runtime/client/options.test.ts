// Options are validated with zod and accept Kafka's config names.
import { describe, expect, it } from 'vitest';
import { Consumer } from '../../../runtime/client/consumer.ts';
import { KafkaConfigError } from '../../../runtime/client/errors.ts';
import { Producer } from '../../../runtime/client/producer.ts';

describe('client options', () => {
  it('accepts Kafka config names and comma-separated bootstrap servers', () => {
    const producer = new Producer({ 'bootstrap.servers': 'a:1, b:2', 'linger.ms': '7', acks: 'all', 'compression.type': 'lz4', 'client.id': 'x' });
    expect(producer.options).toMatchObject({ bootstrapServers: ['a:1', 'b:2'], lingerMs: 7, acks: -1, compression: 'lz4', clientId: 'x' });
    const consumer = new Consumer({ bootstrapServers: ['a:1'], 'group.id': 'g', 'auto.offset.reset': 'earliest', 'enable.auto.commit': 'false', 'partition.assignment.strategy': 'roundrobin' });
    expect(consumer.options).toMatchObject({ groupId: 'g', autoOffsetReset: 'earliest', autoCommit: false, partitionAssignors: ['roundrobin'] });
  });

  it('names the option that is wrong', () => {
    expect(() => new Producer({ bootstrapServers: 'localhost' })).toThrow(/bootstrapServers.*host:port/);
    expect(() => new Producer({ bootstrapServers: 'a:1', acks: 2 as never })).toThrow(KafkaConfigError);
    expect(() => new Producer({ bootstrapServers: 'a:1', lingerMss: 5 } as never)).toThrow(/lingerMss/);
    expect(() => new Consumer({ bootstrapServers: 'a:1', 'auto.offset.reset': 'smallest' })).toThrow(/autoOffsetReset/);
    expect(() => new Consumer({ bootstrapServers: 'a:1', sessionTimeoutMs: 1000, heartbeatIntervalMs: 3000 })).toThrow(/heartbeatIntervalMs/);
    expect(() => new Producer({ bootstrapServers: 'a:1', 'linger.ms': 1, lingerMs: 2 })).toThrow(/given twice/);
  });

  it('refuses subscribe without a group and commit without a group', async () => {
    const consumer = new Consumer({ bootstrapServers: 'a:1' });
    expect(() => consumer.subscribe({ topics: ['t'] })).toThrow(/groupId/);
    await expect(consumer.commit()).rejects.toThrow(/groupId/);
  });
});
