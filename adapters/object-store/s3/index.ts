/** S3 adapter for the ObjectStore port; kept apart so the embedded stores never load the AWS SDK. */
export { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.ts'
