/**
 * The JSON Schemas (OpenAPI 3.1 = JSON Schema 2020-12) of the feature server's bodies and
 * WebSocket messages. Names come from the catalog where the server checks them (views, features,
 * services, request inputs), so a property-based client (schemathesis) draws names that exist and
 * a reader sees what this server serves; everything else is the shape the handlers write
 * (serving/handlers/).
 */
import type { FeatureCatalog } from '../feature-catalog.ts'
import { SERVING_ERROR_CODES } from './error-codes.ts'

type Schema = Readonly<Record<string, unknown>>

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` })
const string: Schema = { type: 'string' }
const integer: Schema = { type: 'integer' }
const nullableInteger: Schema = { type: ['integer', 'null'] }
const stringMap: Schema = { type: 'object', additionalProperties: string }

/** Where the server checks a name against the catalog, the schema lists the names (a finite enum keeps the schema honest). */
function names(values: readonly string[]): Schema {
  return values.length === 0 ? string : { type: 'string', enum: [...new Set(values)] }
}

const REQUEST_VALUE_TYPES: Readonly<Record<string, Schema>> = {
  long: integer,
  double: { type: 'number' },
  string,
  boolean: { type: 'boolean' },
}

export function componentSchemas(catalog: FeatureCatalog): Record<string, Schema> {
  const viewNames = catalog.views.flatMap((v) => [v.name, `${v.name}@${v.version}`])
  const featureRefs = [
    ...catalog.views.flatMap((v) => v.features.flatMap((f) => [`${v.name}:${f.name}`, `${v.name}@${v.version}:${f.name}`])),
    ...catalog.requestFeatures.map((r) => r.name),
  ]
  const requestInputs: Record<string, Schema> = {}
  for (const r of catalog.requestFeatures) for (const [field, type] of Object.entries(r.request)) requestInputs[field] = REQUEST_VALUE_TYPES[type] ?? {}

  return {
    ErrorCode: {
      type: 'string',
      enum: [...SERVING_ERROR_CODES],
      description: "kfs's error codes (core/error-codes.ts) and the HTTP boundary's own (serving/openapi/error-codes.ts).",
    },
    Error: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: ref('ErrorCode'),
            message: string,
            errorId: { type: 'string', format: 'uuid', description: 'On every 5xx but 503: the id of the log line that has the exception.' },
          },
          additionalProperties: { type: ['string', 'number'], description: 'Context: the view, join key, field or limit at fault.' },
        },
      },
    },
    ViewName: { ...names(viewNames), description: 'A view by name (its highest served version) or name@version.' },
    FeatureRef: { ...names(featureRefs), description: 'view:feature, view@version:feature, or a request feature name.' },
    ServiceName: names(catalog.services.map((s) => s.name)),
    FeatureValue: {
      description: 'A feature value; null when the view has no row (MISSING) or it is older than the TTL. Request features may return booleans.',
      type: ['number', 'string', 'boolean', 'null', 'array'],
      items: { type: ['number', 'string'] },
    },
    ViewStatus: { type: 'string', enum: ['PRESENT', 'MISSING', 'OUTSIDE_TTL'] },
    ViewState: {
      type: 'object',
      required: ['status', 'as_of', 'age_ms'],
      properties: {
        status: ref('ViewStatus'),
        as_of: { ...nullableInteger, description: 'Event time (epoch ms) the row describes; null when MISSING.' },
        age_ms: { ...nullableInteger, description: 'Server time minus as_of.' },
      },
    },
    FeatureRequest: {
      type: 'object',
      required: ['entities'],
      description:
        'Entity lists are zipped into rows; a list of length 1 is repeated for every row. Give exactly one of features or service; any other field is a 400. A view whose join keys are missing from entities is a 400, and so are no entities, a name that is no served view\'s join key, and a value that is not a valid key part (string or integer, at most 512 bytes, no control characters). An int entity\'s key past 2^53 is sent as a string of its digits.',
      properties: {
        entities: {
          type: 'object',
          description: 'join key → values, one per row',
          additionalProperties: { type: 'array', minItems: 1, items: { type: ['string', 'integer'] } },
        },
        features: {
          type: 'array',
          minItems: 1,
          uniqueItems: true,
          items: ref('FeatureRef'),
          description: 'One answer per feature: a feature listed twice, or as view:f and view@N:f where N is the latest version, is a 400.',
        },
        service: ref('ServiceName'),
        request: { type: 'object', description: 'Inputs of request-time features, by field.', properties: requestInputs },
      },
      additionalProperties: false,
      oneOf: [{ required: ['features'] }, { required: ['service'] }],
    },
    FeatureResponse: {
      type: 'object',
      required: ['features', 'rows'],
      properties: {
        features: { type: 'array', items: string, description: 'Names of the values, in order.' },
        rows: {
          type: 'array',
          items: {
            type: 'object',
            required: ['entities', 'values', 'views'],
            properties: {
              entities: { type: 'object', description: 'The join-key values of this row, as sent.' },
              values: { type: 'array', items: ref('FeatureValue'), description: 'One per name in features.' },
              views: {
                type: 'object',
                description: 'Per view read (keyed name, or name@version when two versions of one view are read).',
                additionalProperties: ref('ViewState'),
              },
            },
          },
        },
      },
    },
    ViewFeatures: {
      type: 'object',
      required: ['view', 'version', 'entity', 'status', 'as_of', 'age_ms', 'features'],
      properties: {
        view: string,
        version: integer,
        entity: { type: 'object', description: 'The join-key values.' },
        status: ref('ViewStatus'),
        as_of: nullableInteger,
        age_ms: nullableInteger,
        features: { type: 'object', additionalProperties: ref('FeatureValue') },
      },
    },
    Registry: registrySchema(),
    Health: {
      type: 'object',
      required: ['status'],
      properties: { status: { type: 'string', enum: ['ok', 'unavailable'] }, reason: string },
    },
    SubscribeMessage: {
      type: 'object',
      description: 'Client → server. entity is the key value, or an object of join keys for a composite entity.',
      properties: {
        subscribe: { type: 'array', items: ref('Topic') },
        unsubscribe: { type: 'array', items: ref('Topic') },
      },
    },
    Topic: {
      type: 'object',
      required: ['view', 'entity'],
      properties: { view: ref('ViewName'), entity: { type: ['string', 'integer', 'object'] } },
    },
    ServerMessage: {
      description: 'Server → client: subscribed, then a snapshot per new subscription, then a row per row that lands; error answers a bad or refused message.',
      oneOf: [
        { type: 'object', required: ['type', 'topics'], properties: { type: { const: 'subscribed' }, topics: integer } },
        {
          type: 'object',
          required: ['type', 'view', 'version', 'entity', 'status', 'as_of', 'features'],
          properties: { type: { const: 'snapshot' }, view: string, version: integer, entity: string, status: ref('ViewStatus'), as_of: nullableInteger, features: { type: 'object' } },
        },
        {
          type: 'object',
          required: ['type', 'view', 'version', 'entity', 'as_of', 'features'],
          properties: { type: { const: 'row' }, view: string, version: integer, entity: string, as_of: integer, features: { type: 'array', items: ref('FeatureValue') } },
        },
        { type: 'object', required: ['type', 'error'], properties: { type: { const: 'error' }, error: { $ref: '#/components/schemas/Error/properties/error' } } },
      ],
    },
  }
}

function registrySchema(): Schema {
  return {
    type: 'object',
    required: ['views', 'services', 'requestFeatures', 'lineage'],
    properties: {
      views: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'version', 'entity', 'source', 'features', 'ttlMs'],
          properties: {
            name: string,
            version: integer,
            entity: {
              type: 'object',
              properties: { name: string, joinKeys: { type: 'array', items: string }, keyType: { type: 'string', enum: ['string', 'int'] } },
            },
            source: { type: 'object', properties: { name: string, topic: string } },
            features: {
              type: 'array',
              items: {
                type: 'object',
                required: ['name', 'type'],
                properties: {
                  name: string,
                  type: { type: 'string', enum: ['long', 'double', 'string', 'long[]', 'double[]', 'string[]'] },
                  op: string,
                  windowMs: { ...nullableInteger, description: 'null = lifetime' },
                },
              },
            },
            ttlMs: integer,
            freshnessSlaMs: integer,
            owner: string,
            description: string,
            tags: stringMap,
            online: { type: 'boolean' },
            offline: { type: 'boolean' },
          },
        },
      },
      services: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'features', 'requestFeatures'],
          properties: { name: string, features: { type: 'array', items: string }, requestFeatures: { type: 'array', items: string }, owner: string, description: string, tags: stringMap },
        },
      },
      requestFeatures: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'request', 'features', 'outputType'],
          properties: {
            name: string,
            request: { type: 'object', additionalProperties: { type: 'string', enum: ['long', 'double', 'string', 'boolean'] } },
            features: { type: 'array', items: string },
            outputType: { type: 'string', enum: ['long', 'double', 'string', 'boolean'] },
            description: string,
          },
        },
      },
      lineage: {
        type: 'object',
        required: ['nodes', 'edges'],
        properties: {
          nodes: { type: 'array', items: string },
          edges: { type: 'array', items: { type: 'object', required: ['from', 'to'], properties: { from: string, to: string } } },
        },
      },
    },
  }
}
