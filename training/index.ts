/**
 * Point-in-time training sets over the offline feature tables (DESIGN §9). Depends on core/,
 * features/ (types), registry/, adapters/offline/iceberg and adapters/offline/parquet; DuckDB only inside
 * ./duckdb/. See README.md for the semantics and the engine choice.
 */
export { createTrainingSet, rebuildTrainingSet, TRAINING_SET_METADATA_KEY, type CreateTrainingSetOptions, type TrainingSetDeps, type TrainingSetResult, type LabelInput } from './create-training-set.ts'
export { planTrainingSet, type TrainingPlan, type PlannedView, type PlannedOutput, type FeatureSelection } from './plan.ts'
export { readLabels, parseCsv, labelTimeMs, labelFormatOf, type LabelTable, type LabelFormat, type LabelColumn } from './labels.ts'
export { loadTrainingSet, listTrainingSets, trainingSetKeys, type TrainingSetRecord, type TrainingSetViewRecord } from './records.ts'
export { type PointInTimeJoiner, type ViewJoinSpec } from './point-in-time.ts'
