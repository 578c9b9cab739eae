// The broker's catalogue of topics: name, id, partition count and config overrides, kept in
// one JSON file in the data directory and rewritten atomically on every change. The partition
// logs themselves belong to the LogManager; this file is what says which of them exist.
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { LIMITS } from '../../core/limits.ts';

export interface TopicRecord {
  name: string;
  /** Canonical UUID text; clients see it in Metadata v10+ and Fetch v13+. */
  topicId: string;
  partitionCount: number;
  /** Only the settings given explicitly; defaults come from the broker config. */
  configs: Record<string, string>;
  internal: boolean;
}

const TopicFileSchema = z.object({
  version: z.literal(1),
  topics: z.array(z.object({
    name: z.string(),
    topicId: z.string().uuid(),
    partitionCount: z.number().int().positive(),
    configs: z.record(z.string(), z.string()),
    internal: z.boolean(),
  })),
});

const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

/** Returns why a topic name is illegal, or null when it is fine (Kafka's rules). */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return 'topic name is empty';
  if (name === '.' || name === '..') return `topic name '${name}' is not allowed`;
  if (name.length > LIMITS.topicNameLengthMax) return `topic name is longer than ${LIMITS.topicNameLengthMax} characters`;
  if (!LEGAL_TOPIC_NAME.test(name)) return `topic name '${name}' may contain only ASCII letters, digits, '.', '_' and '-'`;
  return null;
}

export class TopicRegistry {
  private readonly topics = new Map<string, TopicRecord>();
  private readonly byId = new Map<string, TopicRecord>();
  private readonly filePath: string;

  constructor(dataDirectory: string) {
    this.filePath = path.join(dataDirectory, 'runnel-topics.json');
    if (!existsSync(this.filePath)) return;
    const parsed = TopicFileSchema.parse(JSON.parse(readFileSync(this.filePath, 'utf8')));
    for (const topic of parsed.topics) this.index(topic);
  }

  get(name: string): TopicRecord | undefined {
    return this.topics.get(name);
  }

  getById(topicId: string): TopicRecord | undefined {
    return this.byId.get(topicId);
  }

  list(): TopicRecord[] {
    return [...this.topics.values()];
  }

  /** `topicId` is given when the topic comes from a cluster's metadata, which chose it. */
  create(name: string, partitionCount: number, configs: Record<string, string>, internal = false, topicId: string = randomUUID()): TopicRecord {
    if (this.topics.has(name)) throw new Error(`assertion: topic ${name} exists`);
    const topic: TopicRecord = { name, topicId, partitionCount, configs, internal };
    this.index(topic);
    this.save();
    return topic;
  }

  delete(name: string): void {
    const topic = this.topics.get(name);
    if (topic === undefined) return;
    this.topics.delete(name);
    this.byId.delete(topic.topicId);
    this.save();
  }

  update(name: string, change: Partial<Pick<TopicRecord, 'partitionCount' | 'configs'>>): TopicRecord {
    const topic = this.topics.get(name);
    if (topic === undefined) throw new Error(`assertion: topic ${name} missing`);
    if (change.partitionCount !== undefined) {
      if (change.partitionCount < topic.partitionCount) throw new Error('assertion: partitions only grow');
      topic.partitionCount = change.partitionCount;
    }
    if (change.configs !== undefined) topic.configs = change.configs;
    this.save();
    return topic;
  }

  private index(topic: TopicRecord): void {
    this.topics.set(topic.name, topic);
    this.byId.set(topic.topicId, topic);
  }

  private save(): void {
    const text = JSON.stringify({ version: 1, topics: this.list() }, null, 2);
    const temporary = `${this.filePath}.tmp`;
    const fd = openSync(temporary, 'w');
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.filePath);
  }
}
