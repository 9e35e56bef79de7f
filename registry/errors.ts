import { FeatureStoreError, type ErrorContext } from '../core/errors.ts'

/**
 * A published view version (or request feature) whose logic differs from its stored hash. Code
 * DEFINITION_CHANGED: the fix is a new version, not a retry.
 */
export class DefinitionChangedError extends FeatureStoreError {
  constructor(message: string, options: { context?: ErrorContext } = {}) {
    super('DEFINITION_CHANGED', message, options)
  }
}
