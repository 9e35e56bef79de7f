/**
 * The serving contract suites once more, on the node:http + ws transport — forced, so that a run
 * where uWebSockets.js loads (Node 20, where the other files get it) covers both transports: the
 * features over GET and POST, errors, auth and body limits, HTTP methods and protocol, WebSocket
 * subscribe, push and limits, the OpenAPI document served. Each suite reads KFS_SERVE_TRANSPORT
 * when it starts a server (server-harness.ts); where the answers differ by transport, the suite
 * says so and asserts each transport's own.
 */
process.env.KFS_SERVE_TRANSPORT = 'node'

// Imported after the variable is set: each file registers its suites as it loads.
await import('./server-contract.test.ts')
await import('./auth-and-limits.test.ts')
await import('./http-protocol.test.ts')
await import('./server-errors.test.ts')
await import('./ws-limits.test.ts')
await import('./openapi.test.ts')
