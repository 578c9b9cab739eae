// The metadata quorum's public surface, for the broker and the CLI to build on. A controller
// runs one QuorumNode; the active controller is the node whose `isActiveLeader` is true, it
// writes metadata records with `append` (resolved once committed), and every node (controllers,
// and later brokers as observers) applies committed records through `onCommit`.
export { METADATA_PARTITION, METADATA_TOPIC, METADATA_TOPIC_ID } from './messages.ts';
export type { PeerEndpoint } from './peer-connection.ts';
export { quorumConfigSchema } from './quorum-config.ts';
export type { QuorumConfig, QuorumConfigInput } from './quorum-config.ts';
export { NotLeaderError, QuorumCore } from './quorum-core.ts';
export type { CommittedBatch, QuorumEnvironment, RoleName } from './quorum-core.ts';
export { QuorumNode } from './quorum-node.ts';
export type { QuorumNodeOptions, QuorumStatus } from './quorum-node.ts';
export { FileQuorumStateStore, MemoryQuorumStateStore } from './quorum-state.ts';
export type { ElectionState, QuorumStateStore } from './quorum-state.ts';
export { MemoryRaftLog } from './raft-log.ts';
export type { EpochEndOffset, RaftLog } from './raft-log.ts';
export { PartitionRaftLog } from './partition-raft-log.ts';
