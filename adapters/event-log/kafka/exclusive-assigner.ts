/**
 * A kafkajs partition assigner that gives every partition of the subscribed topics to ONE member
 * of the group (ports.ts `exclusive`): a consumer that must see a topic whole — the re-key stage's
 * merge (docs/semantics.md §16) — never gets a partial view of it.
 *
 * Which member: the one that owns partitions now (each member says so in its join metadata), so a
 * rebalance caused by a newcomer leaves the topic where it is; when none does (the owner left or
 * died and its session expired), the member with the smallest id. Members that get nothing still
 * receive an explicit empty assignment, so they stay in the group as stand-bys.
 *
 * All members of a group must use it: Kafka refuses a member whose protocols share none with the
 * group's (INCONSISTENT_GROUP_PROTOCOL), so an old-style member cannot silently split the topic.
 */
import kafkajs, { type GroupMember, type PartitionAssigner } from 'kafkajs'

const { AssignerProtocol } = kafkajs

export const EXCLUSIVE_ASSIGNER_NAME = 'KfsExclusiveAssigner'
const VERSION = 0

/** `ownsPartitions` is asked at every join: whether this member holds any partition right now. */
export function exclusiveAssigner(ownsPartitions: () => boolean): PartitionAssigner {
  return ({ cluster }) => ({
    name: EXCLUSIVE_ASSIGNER_NAME,
    version: VERSION,
    async assign({ members, topics }) {
      const owner = chooseOwner(members)
      const everything: Record<string, number[]> = {}
      for (const topic of topics)
        everything[topic] = cluster
          .findTopicPartitionMetadata(topic)
          .map((m) => m.partitionId)
          .sort((a, b) => a - b)
      return members.map(({ memberId }) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: VERSION,
          assignment: memberId === owner ? everything : {},
          userData: Buffer.alloc(0),
        }),
      }))
    },
    protocol({ topics }) {
      return {
        name: EXCLUSIVE_ASSIGNER_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: VERSION,
          topics,
          userData: Buffer.from([ownsPartitions() ? 1 : 0]),
        }),
      }
    },
  })
}

/** The current owner (smallest id if, oddly, several claim it), else the smallest member id. */
export function chooseOwner(members: readonly GroupMember[]): string | undefined {
  const ids = (list: readonly GroupMember[]) => list.map((m) => m.memberId).sort()
  const owners = members.filter((m) => claimsOwnership(m.memberMetadata))
  return ids(owners)[0] ?? ids(members)[0]
}

function claimsOwnership(metadata: Buffer): boolean {
  try {
    const decoded = AssignerProtocol.MemberMetadata.decode(metadata)
    return decoded?.userData?.[0] === 1
  } catch {
    // A member whose metadata cannot be read claims nothing; it can still be chosen by id.
    return false
  }
}
