/**
 * Point-in-time training sets over the offline feature tables (training/README.md). Depends on
 * core/, features/, ports/ and registry/: the feature tables, Parquet and the join engine are
 * ports (feature-rows, parquet-codec, point-in-time-joiner) that main/ wires to adapters.
 */
export { createTrainingSet, rebuildTrainingSet, TRAINING_SET_METADATA_KEY, type CreateTrainingSetOptions, type TrainingSetDeps, type TrainingSetResult, type LabelInput } from './create-training-set.ts'
export { planTrainingSet, type TrainingPlan, type PlannedView, type PlannedOutput, type FeatureSelection } from './plan.ts'
export { readLabels, labelTimeMs, labelFormatOf, MIN_LABEL_TIME_MS, MAX_LABEL_TIME_MS, type LabelTable, type LabelFormat, type LabelColumn, type LabelFile } from './labels.ts'
export { type LabelReader } from '../ports/label-reader.ts'
export { loadTrainingSet, listTrainingSets, trainingSetKeys, type TrainingSetRecord, type TrainingSetViewRecord } from './records.ts'
export { type PointInTimeJoiner, type ViewJoinSpec } from '../ports/point-in-time-joiner.ts'
