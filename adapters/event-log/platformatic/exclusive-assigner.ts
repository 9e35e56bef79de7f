/**
 * The `exclusive` consumer option (ports/event-log.ts) on `@platformatic/kafka`: every partition
 * of the subscribed topics goes to ONE member of the group, the one that owns partitions now
 * (each member says so in its join metadata), else the member with the smallest id; the others
 * get an explicit empty assignment and stay as stand-bys. Same rule as the kafkajs adapter's
 * assigner (../kafka/exclusive-assigner.ts), under the same protocol name, so a member of the
 * group using the default round-robin protocol is refused by Kafka (INCONSISTENT_GROUP_PROTOCOL).
 */
import type {
  ClusterMetadata,
  ExtendedGroupProtocolSubscription,
  GroupAssignment,
  GroupPartitionsAssignments,
  GroupProtocolSubscription,
} from '@platformatic/kafka'

export const EXCLUSIVE_PROTOCOL: GroupProtocolSubscription = { name: 'KfsExclusiveAssigner', version: 0 }

/** Join metadata: one byte, 1 when this member holds partitions right now. */
export function ownershipClaim(ownsPartitions: boolean): Buffer {
  return Buffer.from([ownsPartitions ? 1 : 0])
}

export function exclusiveAssignments(
  _self: string,
  members: Map<string, ExtendedGroupProtocolSubscription>,
  topics: Set<string>,
  metadata: ClusterMetadata,
): GroupPartitionsAssignments[] {
  const ids = [...members.keys()].sort()
  const claiming = ids.filter((id) => {
    const claim = members.get(id)?.metadata
    return Buffer.isBuffer(claim) && claim[0] === 1
  })
  const owner = claiming[0] ?? ids[0]
  const everything = new Map<string, GroupAssignment>()
  for (const topic of [...topics].sort()) {
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0
    everything.set(topic, { topic, partitions: Array.from({ length: count }, (_, p) => p) })
  }
  return ids.map((memberId) => ({ memberId, assignments: memberId === owner ? everything : new Map() }))
}
