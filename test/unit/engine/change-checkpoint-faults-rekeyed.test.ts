/**
 * ./change-checkpoint-faults.test.ts with every fault aimed at the re-keyed current-state view:
 * the checkpoint steps of its internal topic's partitions (state, checkpoint record, pruning), its
 * internal topic's archive and its feature table — the path where a change is split into a
 * retract and an add copy for two groups — faulted every way; the outcome must be a clean run's.
 */
import { defineChangeFaultCases } from '../../support/change-checkpoint-fault-scenario.ts'

defineChangeFaultCases('re-keyed view')
