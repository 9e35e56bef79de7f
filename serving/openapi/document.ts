/**
 * The OpenAPI 3.1 description of the feature server, served at `/openapi.json`. One operation per
 * mounted route, keyed like `FeatureServer.routes` (`GET /v1/features/:view`); the WebSocket route
 * is described as the GET that upgrades, with its messages under `x-kfs-websocket` (OpenAPI has no
 * WebSocket operations). test/unit/serving/openapi.test.ts fails when a route exists that this
 * table does not describe, or the other way round; schemathesis checks the answers against it
 * (scripts/python-env.sh, test/integration/python/).
 *
 * Authentication: with API keys configured every operation but `/healthz` needs
 * `Authorization: Bearer <key>`; the document says so (a server without keys is simply open).
 * Another method on a known path answers 405 with `Allow`, OPTIONS 204 with `Allow`, HEAD of a GET
 * path as the GET without its body, an unknown path 404: the router's fallbacks and HEAD, common to
 * every path, are said once in `info.description` and not repeated per operation.
 */
import type { FeatureCatalog } from '../feature-catalog.ts'
import { ICEBERG_CATALOG_OPERATIONS } from './iceberg-catalog.ts'
import { componentSchemas } from './schemas.ts'

type Json = Readonly<Record<string, unknown>>

const json = (schema: string): Json => ({ 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } })
const error = (description: string): Json => ({ description, content: json('Error') })

const UNAUTHORIZED = error('No or an unknown API key (only when the server has keys configured).')
const INTERNAL = error(
  'A failure of the server, of a definition (REQUEST_FEATURE_FAILED), a stored row the online store cannot read for good (STORED_ROW_UNREADABLE: not a row kfs wrote, or a read the store refuses; the body names the view), or another store\'s read refused or its data damaged (STORE_READ_REFUSED, DATA_CORRUPT; the body names the object) — asking again will not help; the body carries the code, an errorId and never an exception\'s text.',
)
const UNAVAILABLE = error('The online store is down (SOURCE_UNAVAILABLE, SINK_UNAVAILABLE, RETRIES_EXHAUSTED) or the server is shutting down.')
const TIMEOUT = error('The request took longer than the request timeout (TIMEOUT).')
const BODY_TIMEOUT = error('The body had not arrived when the request timeout, counted from the request head, passed (REQUEST_TIMEOUT); the connection closes.')
const REQUEST_ID = {
  'x-request-id': { description: "With the served-feature log on: the client's x-request-id when valid, else a generated UUID.", schema: { type: 'string' } },
}

/** A path template of the router (`/v1/features/:view`) in OpenAPI's form (`/v1/features/{view}`). */
export function openApiPath(pattern: string): string {
  return pattern.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}')
}

/** Operations by `METHOD pattern`, as `FeatureServer.routes` names them (WS = the upgrading GET). */
export const OPERATIONS: Readonly<Record<string, Json>> = {
  'GET /healthz': {
    operationId: 'healthz',
    summary: 'Liveness and whether the online store is connected',
    security: [],
    responses: {
      '200': { description: 'Serving.', content: json('Health') },
      '503': { description: 'The online store is not connected.', content: json('Health') },
      '500': INTERNAL,
    },
  },
  'GET /metrics': {
    operationId: 'metrics',
    summary: 'Prometheus metrics of the feature server',
    responses: {
      '200': { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } },
      '401': UNAUTHORIZED,
      '500': INTERNAL,
    },
  },
  'GET /openapi.json': {
    operationId: 'openapi',
    summary: 'This document',
    responses: { '200': { description: 'OpenAPI 3.1.', content: { 'application/json': { schema: { type: 'object' } } } }, '401': UNAUTHORIZED },
  },
  'GET /v1/registry': {
    operationId: 'registry',
    summary: 'What this server serves: views, services, request features, lineage',
    responses: { '200': { description: 'The registry document.', content: json('Registry') }, '401': UNAUTHORIZED },
  },
  'GET /': {
    operationId: 'catalog',
    summary: 'The feature catalog page',
    responses: { '200': { description: 'HTML.', content: { 'text/html': { schema: { type: 'string' } } } }, '401': UNAUTHORIZED, '500': INTERNAL },
  },
  'GET /v1/features/:view/:entityKey': {
    operationId: 'getViewFeatures',
    summary: "One entity's latest row of one view (single join key)",
    parameters: [
      { name: 'view', in: 'path', required: true, schema: { $ref: '#/components/schemas/ViewName' } },
      { name: 'entityKey', in: 'path', required: true, schema: { type: 'string' }, description: 'The join-key value.' },
    ],
    responses: {
      '200': { description: 'The row (values null unless PRESENT).', headers: REQUEST_ID, content: json('ViewFeatures') },
      '400': error('An invalid key, a view with a composite key (use the query form), or any query parameter (BAD_REQUEST).'),
      '401': UNAUTHORIZED,
      '404': error('Unknown view (NOT_FOUND).'),
      '500': INTERNAL,
      '503': UNAVAILABLE,
      '504': TIMEOUT,
    },
  },
  'GET /v1/features/:view': {
    operationId: 'getViewFeaturesByKeys',
    summary: "One entity's latest row of one view, join keys as query parameters (composite keys)",
    parameters: [
      { name: 'view', in: 'path', required: true, schema: { $ref: '#/components/schemas/ViewName' } },
      {
        name: 'joinKeys',
        in: 'query',
        style: 'form',
        explode: true,
        schema: { type: 'object', additionalProperties: { type: 'string' } },
        description: 'One parameter per join key of the view, e.g. ?user_id=u1&item_id=9; any other parameter is a 400.',
      },
    ],
    responses: {
      '200': { description: 'The row (values null unless PRESENT).', headers: REQUEST_ID, content: json('ViewFeatures') },
      '400': error('A missing or invalid join key, or a parameter that is not a join key of the view (BAD_REQUEST).'),
      '401': UNAUTHORIZED,
      '404': error('Unknown view (NOT_FOUND).'),
      '500': INTERNAL,
      '503': UNAVAILABLE,
      '504': TIMEOUT,
    },
  },
  'POST /v1/features': {
    operationId: 'getFeatures',
    summary: 'Many entities and views in one round trip: stored and request-time features',
    requestBody: { required: true, content: json('FeatureRequest') },
    responses: {
      '200': { description: 'One row per entity row, values positional to features.', headers: REQUEST_ID, content: json('FeatureResponse') },
      '400': error('Bad JSON, a key given twice in one object, a bad or unknown field, a missing join key or request input, or any query parameter (BAD_REQUEST).'),
      '401': UNAUTHORIZED,
      '404': error('Unknown view, feature or service (NOT_FOUND).'),
      '408': BODY_TIMEOUT,
      '413': error('Body over the size limit (PAYLOAD_TOO_LARGE) or too many lookups (BATCH_TOO_LARGE).'),
      '500': INTERNAL,
      '503': UNAVAILABLE,
      '504': TIMEOUT,
    },
  },
  'WS /v1/subscribe': {
    operationId: 'subscribe',
    summary: 'WebSocket push of rows as they land (send Upgrade: websocket)',
    description:
      'Send {"subscribe": [{"view", "entity"}]}; the server answers {"type":"subscribed"}, a snapshot per new subscription, then a row message per row that lands. Keep the highest as_of per key. Limits: serving/server/subscriptions.ts. A client that cannot set headers may pass the key as ?access_token=.',
    security: [{ bearerAuth: [] }, { accessToken: [] }],
    responses: {
      '101': { description: 'Switching to the WebSocket protocol.' },
      '401': UNAUTHORIZED,
      '426': error('A plain GET without Upgrade: websocket (UPGRADE_REQUIRED).'),
      '500': INTERNAL,
      '503': error('The server is shutting down (SHUTTING_DOWN).'),
    },
    'x-kfs-websocket': {
      clientMessage: { $ref: '#/components/schemas/SubscribeMessage' },
      serverMessage: { $ref: '#/components/schemas/ServerMessage' },
    },
  },
  ...ICEBERG_CATALOG_OPERATIONS,
}

/** The whole document for a server over `catalog` (names in the schemas are this server's). */
export function openApiDocument(catalog: FeatureCatalog): Json {
  const paths: Record<string, Record<string, Json>> = {}
  for (const [key, operation] of Object.entries(OPERATIONS)) {
    const [method, pattern] = key.split(' ') as [string, string]
    const path = openApiPath(pattern)
    const verb = method === 'POST' ? 'post' : 'get'
    paths[path] = { ...paths[path], [verb]: operation }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'kfs feature server',
      version: '1',
      description:
        'Online features over HTTP and WebSocket (kfs serve). Errors are JSON {"error": {"code", "message", …}} with the codes of components.schemas.ErrorCode; HEAD of a GET path answers as the GET does (status, headers, Content-Length of its body) without the body; OPTIONS of a known path answers 204 with Allow listing its methods (no CORS headers); another method on a known path answers 405 with Allow, an unknown path 404. ' +
        'A request the HTTP parser refuses before any route (malformed framing, a Content-Length given twice or not a number, a method it does not know) is answered 400, one whose request line and headers pass 16 KiB 431 HEADERS_TOO_LARGE, and one whose head has not arrived within 10 s 408 REQUEST_TIMEOUT, each closing the connection — on the node:http transport; uWebSockets.js closes such a connection without an answer.',
    },
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key of KFS_SERVE_API_KEYS (not asked when none is configured).' },
        accessToken: { type: 'apiKey', in: 'query', name: 'access_token', description: 'The same key as a query parameter: WebSocket upgrades only, for clients that cannot set headers.' },
      },
      schemas: componentSchemas(catalog),
    },
  }
}

const documents = new WeakMap<FeatureCatalog, string>()

/** The document as JSON text, built once per catalog. */
export function openApiJson(catalog: FeatureCatalog): string {
  let text = documents.get(catalog)
  if (text === undefined) documents.set(catalog, (text = JSON.stringify(openApiDocument(catalog))))
  return text
}
