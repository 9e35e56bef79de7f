/** The routes of the read-only Iceberg REST catalog (serving/handlers/iceberg-catalog.ts), for the route table of create-server.ts. */
import { JsonBody } from '../json-body.ts'
import { catalogConfig, listNamespaces, listTables, loadNamespace, loadTable, type CatalogTables } from '../handlers/iceberg-catalog.ts'
import type { RoutePolicy } from '../middleware/request-guard.ts'
import { decodePathSegment } from './percent-decoding.ts'
import type { Ctx, RequestLifecycle } from './request-lifecycle.ts'
import type { HttpRoute } from './router.ts'
import type { TransportRequest } from './transport/types.ts'

function pathParameter(req: TransportRequest, index: number): string {
  return decodePathSegment(req.getParameter(index) ?? '')
}

/** The catalog's routes, for the server's route table (serving/server/create-server.ts). */
export function icebergCatalogRoutes(tables: CatalogTables, lifecycle: Pick<RequestLifecycle, 'run'>, policy: RoutePolicy): HttpRoute[] {
  const { run } = lifecycle
  const route = (pattern: string, handle: (ctx: Ctx, req: TransportRequest) => void): HttpRoute => ({ method: 'get', pattern, name: 'iceberg_catalog', policy, handle })
  return [
    route('/v1/config', (ctx) => run(ctx, () => Promise.resolve(catalogConfig()))),
    route('/v1/namespaces', (ctx) => run(ctx, () => Promise.resolve(listNamespaces()))),
    route('/v1/namespaces/:namespace', (ctx, req) => {
      const namespace = pathParameter(req, 0)
      run(ctx, () => Promise.resolve(loadNamespace(namespace)))
    }),
    route('/v1/namespaces/:namespace/tables', (ctx, req) => {
      const namespace = pathParameter(req, 0)
      run(ctx, () => listTables(tables, namespace))
    }),
    route('/v1/namespaces/:namespace/tables/:table', (ctx, req) => {
      const namespace = pathParameter(req, 0)
      const table = pathParameter(req, 1)
      // The metadata's text as it is (a JsonBody): re-serialised, its 64-bit snapshot ids would not
      // survive JS numbers. Through `run`, so a table listing that hangs is a 504 like any route's.
      run(ctx, () => loadTable(tables, namespace, table).then((text) => new JsonBody(text)))
    }),
  ]
}
