/**
 * How tests start Node on kfs's TypeScript. `kfs` itself through its launcher (bin/kfs.mjs), as
 * users run it; a TypeScript script with no loader flag on a Node that strips types itself (24,
 * the baseline: faster to start by seconds, with NODE_COMPILE_CACHE) and with tsx's on an older
 * one (the uWebSockets.js serving leg runs the machine's Node 20).
 */
import { fileURLToPath } from 'node:url'

export const KFS_BIN = fileURLToPath(new URL('../../bin/kfs.mjs', import.meta.url))

export const TS_NODE_ARGS: readonly string[] = process.features.typescript ? [] : ['--import', 'tsx']
