import { join } from 'node:path'
import { LocalObjectStore } from '../../../adapters/object-store/index.ts'
import { defineCheckpointFaultCases } from '../../support/checkpoint-fault-scenario.ts'

defineCheckpointFaultCases('local store', async (dir) => new LocalObjectStore(join(dir, 'warehouse')))
