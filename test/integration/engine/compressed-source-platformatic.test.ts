/** `kfs run` on platformatic over a source compressed with every codec Kafka defines (compressed-source-case.ts). */
import { test } from 'node:test'
import { compressedSourceCase } from './compressed-source-case.ts'

void test('platformatic: kfs run reads a source compressed with every codec: the views equal the reference, replay finds the same rows', () =>
  compressedSourceCase('platformatic'))
