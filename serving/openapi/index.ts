export { OPERATIONS, openApiDocument, openApiJson, openApiPath } from './document.ts'
export { HTTP_ERROR_CODES, SERVING_ERROR_CODES } from './error-codes.ts'
