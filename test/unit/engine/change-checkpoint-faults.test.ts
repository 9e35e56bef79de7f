/**
 * Every step of a checkpoint, faulted every way (test/support/checkpoint-fault-scenario.ts), over
 * change views — an attribute view, a current-state view keyed by the source key and one re-keyed
 * by another column, fed by a Debezium changelog with out-of-order commit times and poison changes
 * (test/support/change-checkpoint-fault-scenario.ts): after recovery, offline rows, online rows,
 * archives and dead letters equal a clean run's, and replay reproduces the live rows. The fault
 * hits whichever partition's write comes first (./change-checkpoint-faults-rekeyed.test.ts aims
 * it at the re-keyed view's).
 */
import { defineChangeFaultCases } from '../../support/change-checkpoint-fault-scenario.ts'

defineChangeFaultCases('any')
