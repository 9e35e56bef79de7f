/** The serving process's public surface: `createServer` over an online store (uWebSockets.js or node:http + ws inside). */
export { createServer, type FeatureServer, type ServerOptions } from './create-server.ts'
export type { TransportChoice } from './transport/select.ts'
export type { TransportName } from './transport/types.ts'
