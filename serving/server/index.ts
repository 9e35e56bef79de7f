/** The serving process's public surface: `createServer` over an online store (uWebSockets.js inside). */
export { createServer, type FeatureServer, type ServerOptions } from './create-server.ts'
