/** `kfs run` on @platformatic/kafka over a source topic re-created with more records than its checkpoints (log-recreated-longer-case.ts). */
import { test } from 'node:test'
import { logRecreatedLongerCase } from './log-recreated-longer-case.ts'

void test('platformatic: a source topic deleted and re-created with more records than the checkpoints stops kfs run, naming partition and offsets, instead of reading past the old positions', () =>
  logRecreatedLongerCase('platformatic'))
