// Runnel's Kafka client: producer, consumer and admin over the Kafka wire protocol. It speaks to
// any Kafka-compatible broker and shares only core/ with Runnel's own broker.
export { Admin } from './admin.ts';
export type { AdminOptions, ConfigEntry, GroupDescription, GroupListing, NewTopic, OffsetSpec, PartitionOffset, TopicDescription, TopicPartitionOffset } from './admin.ts';
export { Consumer } from './consumer.ts';
export type { ConsumerOptions, ConsumerRecord, Subscription, TopicPartition } from './consumer.ts';
export { Producer } from './producer.ts';
export type { CompressionName, ConsumerGroupMetadata, ProducerMessage, ProducerOptions, ProducerRecord, RecordMetadata, Transaction, TransactionState, TransactionalOffset } from './producer.ts';
export {
  KafkaClientError, KafkaConfigError, KafkaConnectionError, KafkaFatalProducerError, KafkaProducerFencedError, KafkaProtocolError, KafkaStateError,
  KafkaTimeoutError, KafkaTransactionAbortableError, KafkaTransactionAbortedError, KafkaVersionError,
} from './errors.ts';
export { murmur2, partitionForKey } from './partitioner.ts';
export { BUILT_IN_ASSIGNORS, cooperativeStickyAssignor, partitionAssignor, rangeAssignor, roundRobinAssignor, stickyAssignor } from './group-protocol.ts';
export type { Assignor, AssignmentMetadata, GroupMember, MemberAssignment, MemberSubscription, PartitionAssignor, TopicPartitions } from './group-protocol.ts';
export { KafkaSerializationError, TypedConsumer, TypedProducer } from './serdes.ts';
export type { TypedMessage, TypedRecord } from './serdes.ts';
// One set of serdes for the client, the DSL and the stores: core's.
export { DeserializationError, Serdes, serde } from '../../core/serdes/index.ts';
export type { Serde } from '../../core/serdes/index.ts';
