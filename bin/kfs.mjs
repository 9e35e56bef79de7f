#!/usr/bin/env node
// Launcher: runs the TypeScript CLI through tsx so `npx kfs` works without a build step — in this
// process, with tsx's hooks registered from here. One process, so a signal sent to `kfs` (docker
// stop, systemd, timeout, kill) reaches kfs itself: a child run by spawnSync never got it, so
// `kfs run` and `kfs serve` did not stop cleanly, and killing the launcher left them running,
// holding their port and the embedded log. tsx is resolved from this file, not the cwd.
import { register as registerCjs } from 'tsx/cjs/api'
import { register as registerEsm } from 'tsx/esm/api'

registerCjs()
registerEsm()
await import(new URL('../main/cli.ts', import.meta.url).href)
