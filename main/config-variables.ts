/**
 * The names of kfs's configuration variables, apart from the loader so that the loader's parts
 * (config-source.ts) can name them without importing the loader back.
 */
/** Every variable loadConfig understands; the config file may hold only these. */
export const CONFIG_VARIABLES = [
  'KFS_DATA_DIR',
  'KFS_KAFKA_BROKERS',
  'KFS_KAFKA_CLIENT_ID',
  'KFS_KAFKA_CLIENT',
  'KFS_KAFKA_SESSION_TIMEOUT_MS',
  'KFS_KAFKA_HEARTBEAT_INTERVAL_MS',
  'KFS_KAFKA_REBALANCE_TIMEOUT_MS',
  'KFS_EMBEDDED_LOG_HANDOVER_MS',
  'KFS_SCHEMA_REGISTRY_URL',
  'KFS_REDIS_URL',
  'KFS_REDIS_COMMAND_TIMEOUT_MS',
  'KFS_S3_ENDPOINT',
  'KFS_S3_BUCKET',
  'KFS_S3_REGION',
  'KFS_S3_PREFIX',
  'KFS_S3_FORCE_PATH_STYLE',
  'KFS_S3_ACCESS_KEY_ID',
  'KFS_S3_SECRET_ACCESS_KEY',
  'KFS_SERVE_HOST',
  'KFS_SERVE_PORT',
  'KFS_SERVE_API_KEYS',
  'KFS_SERVE_LOG_TOPIC',
  'KFS_SERVE_LOG_SAMPLE',
  'KFS_SERVE_TRANSPORT',
  'KFS_METRICS_PORT',
  'KFS_CHECKPOINT_INTERVAL_MS',
  'KFS_CHECKPOINT_MAX_RECORDS',
  'KFS_SNAPSHOT_RETENTION_MS',
  'KFS_SNAPSHOT_MIN_KEEP',
  'KFS_SNAPSHOT_MAX_KEEP',
  'KFS_ORPHAN_MIN_AGE_MS',
  'KFS_COMPACT_OLDER_THAN_MS',
  'KFS_PARQUET_WORKER',
  'KFS_FEATURES',
  'KFS_LOG_LEVEL',
] as const
export type ConfigVariable = (typeof CONFIG_VARIABLES)[number]
