/**
 * The served-feature log: sampling, the record and its Avro form, the batching writer and the
 * definitions that make its topic an archived source. Depends on core/, features/ (types
 * and builders) and schemas/; the transport to Kafka or the embedded log is wired in main/.
 */
export { ServedLog, type ServedLogTransport, type ServedLogMessage, type ServedLogRecorder, type ServedLogStats, type ServedLogDropReason, type ServedLogOptions, type ServedEventEncoder } from './served-log.ts'
export { isSampled, sampleFraction, isValidRequestId } from './sampling.ts'
export { SERVED_FEATURES_SCHEMA, toServedEvent, fromServedEvent, viewRef, type ServedRecord, type ServedEvent } from './served-record.ts'
export { servedLog, DEFAULT_SERVED_LOG_TOPIC, type ServedLogDefinitions, type ServedLogDefinitionOptions } from './definitions.ts'
