// Broker and topic settings: Kafka's names, properties files, unit aliases, and errors that
// name the key and the reason.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadBrokerConfig, parseProperties, resolveBrokerConfig } from '../../../runtime/broker/config.ts';
import { effectiveTopicConfigs, toLogConfig, validateTopicConfigs } from '../../../runtime/broker/topic-config.ts';
import { cleanup, temporaryDirectory } from '../../helpers/broker.ts';

afterAll(cleanup);

describe('broker config', () => {
  it('parses Java properties: comments, separators, continuations', () => {
    const parsed = parseProperties('# comment\n! also a comment\nnode.id=3\nlog.dirs : /var/data\nlisteners PLAINTEXT://0.0.0.0:9093\nlong.value=a,\\\n  b\n\n');
    expect(parsed).toEqual({ 'node.id': '3', 'log.dirs': '/var/data', listeners: 'PLAINTEXT://0.0.0.0:9093', 'long.value': 'a,b' });
  });

  it('fills in Kafka defaults and lets later layers win', () => {
    const config = resolveBrokerConfig({ 'num.partitions': '3' }, { 'num.partitions': 6, 'log.retention.hours': '1', 'broker.id': '7' });
    expect(config['num.partitions']).toBe(6);
    expect(config['log.retention.ms']).toBe(3_600_000);
    expect(config['node.id']).toBe(7);
    expect(config['auto.create.topics.enable']).toBe(true);
    expect(config['offsets.topic.num.partitions']).toBe(50);
  });

  it('reads a properties file', () => {
    const file = path.join(temporaryDirectory(), 'server.properties');
    writeFileSync(file, 'auto.create.topics.enable=false\nmessage.max.bytes=2000\n');
    const config = loadBrokerConfig(file, { 'message.max.bytes': undefined });
    expect(config['auto.create.topics.enable']).toBe(false);
    expect(config['message.max.bytes']).toBe(2000);
  });

  it('names each bad key and why', () => {
    let error: unknown;
    try {
      resolveBrokerConfig({ 'num.partitions': 'many', listeners: 'nowhere', 'log.retention.ms': '-5', 'num.partition': '2' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/num\.partitions=many: must be a whole number/);
    expect(problems).toMatch(/listeners=nowhere: must look like PLAINTEXT:\/\/host:port/);
    expect(problems).toMatch(/log\.retention\.ms=-5/);
    expect(problems).toMatch(/unknown setting\(s\) num\.partition/);
  });
});

describe('topic config', () => {
  it('validates values with the key and the reason', () => {
    expect(validateTopicConfigs({ 'retention.ms': '1000', 'cleanup.policy': 'compact,delete' })).toEqual([]);
    const problems = validateTopicConfigs({ 'retention.ms': 'soon', 'cleanup.policy': 'shred', 'segment.bytes': '10', 'made.up': '1', 'message.timestamp.type': 'Now' });
    expect(problems.map((p) => p.name).sort()).toEqual(['cleanup.policy', 'made.up', 'message.timestamp.type', 'retention.ms', 'segment.bytes']);
    expect(problems.find((p) => p.name === 'made.up')?.reason).toMatch(/unknown topic config/);
  });

  it('derives defaults from broker settings and maps onto the log config', () => {
    const broker = resolveBrokerConfig({ 'log.retention.ms': '5000', 'log.segment.bytes': '4096' });
    const effective = effectiveTopicConfigs(broker, { 'retention.bytes': '999' });
    expect(effective.get('retention.ms')).toMatchObject({ value: '5000', isDefault: true });
    expect(effective.get('retention.bytes')).toMatchObject({ value: '999', isDefault: false });
    const log = toLogConfig(broker, { 'cleanup.policy': 'compact,delete', 'message.timestamp.type': 'LogAppendTime' });
    expect(log).toMatchObject({ retentionMs: 5000, segmentBytes: 4096, cleanupPolicy: ['compact', 'delete'], messageTimestampType: 'LogAppendTime' });
  });
});
