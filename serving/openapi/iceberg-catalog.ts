/**
 * The OpenAPI description of the read-only Iceberg REST catalog subset (serving/handlers/iceberg-catalog.ts).
 * Its bodies are the Iceberg REST spec's (CatalogConfig, ListNamespacesResponse,
 * GetNamespaceResponse, ListTablesResponse, LoadTableResult), described loosely here: the table
 * metadata is Iceberg's own format, not kfs's.
 */
type Json = Readonly<Record<string, unknown>>

const errorBody = (description: string): Json => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } })
const object = (description: string, schema: Json): Json => ({ description, content: { 'application/json': { schema } } })
const UNAUTHORIZED = errorBody('No or an unknown API key (only when the server has keys configured).')
const UNAVAILABLE = errorBody('The object store is unreachable (SOURCE_UNAVAILABLE).')
const TIMEOUT = errorBody('The request took longer than the request timeout (TIMEOUT).')
const NAMESPACE = { name: 'namespace', in: 'path', required: true, schema: { type: 'string' }, description: 'Always kfs.' }
const stringList = { type: 'array', items: { type: 'string' } }
const identifier = { type: 'object', required: ['namespace', 'name'], properties: { namespace: stringList, name: { type: 'string' } } }

export const ICEBERG_CATALOG_OPERATIONS: Readonly<Record<string, Json>> = {
  'GET /v1/config': {
    operationId: 'icebergConfig',
    summary: 'Iceberg REST catalog: configuration (no prefix, no overrides)',
    responses: {
      '200': object('CatalogConfig.', { type: 'object', required: ['defaults', 'overrides'], properties: { defaults: { type: 'object' }, overrides: { type: 'object' } } }),
      '401': UNAUTHORIZED,
    },
  },
  'GET /v1/namespaces': {
    operationId: 'icebergListNamespaces',
    summary: 'Iceberg REST catalog: the one namespace, kfs',
    responses: { '200': object('ListNamespacesResponse.', { type: 'object', required: ['namespaces'], properties: { namespaces: { type: 'array', items: stringList } } }), '401': UNAUTHORIZED },
  },
  'GET /v1/namespaces/:namespace': {
    operationId: 'icebergLoadNamespace',
    summary: 'Iceberg REST catalog: a namespace',
    parameters: [NAMESPACE],
    responses: {
      '200': object('GetNamespaceResponse.', { type: 'object', required: ['namespace'], properties: { namespace: stringList, properties: { type: 'object' } } }),
      '400': errorBody('Malformed percent-encoding (BAD_REQUEST).'),
      '401': UNAUTHORIZED,
      '404': errorBody('Not kfs (NOT_FOUND).'),
    },
  },
  'GET /v1/namespaces/:namespace/tables': {
    operationId: 'icebergListTables',
    summary: 'Iceberg REST catalog: every kfs table (what kfs tables lists)',
    parameters: [NAMESPACE],
    responses: {
      '200': object('ListTablesResponse.', { type: 'object', required: ['identifiers'], properties: { identifiers: { type: 'array', items: identifier } } }),
      '400': errorBody('Malformed percent-encoding (BAD_REQUEST).'),
      '401': UNAUTHORIZED,
      '404': errorBody('Not kfs (NOT_FOUND).'),
      '500': errorBody('The object store failed (INTERNAL).'),
      '503': UNAVAILABLE,
      '504': TIMEOUT,
    },
  },
  'GET /v1/namespaces/:namespace/tables/:table': {
    operationId: 'icebergLoadTable',
    summary: "Iceberg REST catalog: a table's current metadata location and metadata",
    parameters: [NAMESPACE, { name: 'table', in: 'path', required: true, schema: { type: 'string' }, description: 'e.g. user_clicks_v1, archive_clicks.' }],
    responses: {
      '200': object('LoadTableResult.', {
        type: 'object',
        required: ['metadata-location', 'metadata'],
        properties: { 'metadata-location': { type: 'string' }, metadata: { type: 'object' }, config: { type: 'object' } },
      }),
      '400': errorBody('Malformed percent-encoding (BAD_REQUEST).'),
      '401': UNAUTHORIZED,
      '404': errorBody('No such namespace or table (NOT_FOUND).'),
      '500': errorBody('The object store failed (INTERNAL).'),
      '503': UNAVAILABLE,
      '504': TIMEOUT,
    },
  },
}
