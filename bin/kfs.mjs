#!/usr/bin/env node
// Launcher: runs the TypeScript CLI without a build step, in this process — one process, so a
// signal sent to `kfs` (docker stop, systemd, timeout, kill) reaches kfs itself: a child run by
// spawnSync never got it, so `kfs run` and `kfs serve` did not stop cleanly, and killing the
// launcher left them running, holding their port and the embedded log.
//
// On Node 24 (the baseline) Node strips the types itself — kfs's code is erasable TypeScript only
// (tsconfig erasableSyntaxOnly) — and the compile cache keeps what it stripped and compiled
// (NODE_COMPILE_CACHE, else a folder in the OS temp dir): `kfs --help` takes 0.7 s of CPU so,
// against 2–3 s through tsx. A user's definitions module may use any TypeScript: it is loaded with
// tsx (registry/import-user-module.ts). Older Nodes run everything through tsx, resolved from here.
import module from 'node:module'

const cli = new URL('../main/cli.ts', import.meta.url).href
if (process.features.typescript) {
  module.enableCompileCache?.()
} else {
  const [{ register: registerCjs }, { register: registerEsm }] = await Promise.all([import('tsx/cjs/api'), import('tsx/esm/api')])
  registerCjs()
  registerEsm()
}
await import(cli)
