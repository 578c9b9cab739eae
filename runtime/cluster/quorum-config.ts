// Settings of a metadata quorum, with KRaft's names where it has one (controller.quorum.*).
import { z } from 'zod';

export const quorumConfigSchema = z
  .object({
    /** This node's id (node.id). */
    nodeId: z.number().int().nonnegative(),
    /** The voters' ids (controller.quorum.voters); a static set, this node among them. */
    voters: z.array(z.number().int().nonnegative()).min(1).max(9),
    clusterId: z.string().nullable().default(null),
    /** Base election timeout; each wait is drawn from [t, 2t) (controller.quorum.election.timeout.ms). */
    electionTimeoutMs: z.number().int().positive().default(1000),
    /**
     * A follower that has not heard from its leader for this long starts an election, and a
     * leader that has not heard from a majority for this long resigns
     * (controller.quorum.fetch.timeout.ms).
     */
    fetchTimeoutMs: z.number().int().positive().default(2000),
    /** A request without an answer after this long is given up and sent again. */
    requestTimeoutMs: z.number().int().positive().default(1000),
    /** How long the leader holds a fetch that has nothing new; must stay well below fetchTimeoutMs. */
    fetchMaxWaitMs: z.number().int().nonnegative().default(250),
    /** Bytes of batches per fetch response (at least one batch is always sent). */
    fetchMaxBytes: z.number().int().positive().default(1024 * 1024),
    /** Records the leader packs into one batch when appends queue up. */
    appendBatchRecordsMax: z.number().int().positive().default(1000),
  })
  .refine((config) => config.voters.includes(config.nodeId), 'nodeId must be one of the voters')
  .refine((config) => new Set(config.voters).size === config.voters.length, 'voters must be distinct')
  .refine((config) => config.fetchMaxWaitMs * 2 < config.fetchTimeoutMs, 'fetchMaxWaitMs must be below half of fetchTimeoutMs')
  .refine((config) => config.requestTimeoutMs <= config.fetchTimeoutMs, 'requestTimeoutMs must not exceed fetchTimeoutMs');

export type QuorumConfig = z.output<typeof quorumConfigSchema>;
export type QuorumConfigInput = z.input<typeof quorumConfigSchema>;
