/**
 * The catalog page of the demo's system, as the person on call opens it: the example shop on
 * embedded defaults (apply, a generated stream with late events, `kfs run --until-caught-up`),
 * then a real `kfs serve` child and headless Chromium. What the page shows comes from the real
 * wiring — freshness from the offline tables, backfill states from the registry, checkpoints and
 * lag from the engine's checkpoint store, dead letters from the dead-letter topic — not a fixture. Screenshots: .kfs/artifacts/demo-catalog-*.png.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { chromium } from 'playwright-core'
import { runKfs, startKfs } from '../../support/kfs-process.ts'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = '.kfs/artifacts'

async function freePort(): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

void test('serving > the demo catalog shows live freshness, dead letters and the lineage graph', async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium`)
  const dataDir = await mkdtemp(join(tmpdir(), 'kfs-catalog-demo-'))
  const port = await freePort()
  const env = { KFS_DATA_DIR: dataDir, KFS_SERVE_PORT: String(port), KFS_CHECKPOINT_INTERVAL_MS: '1000' }
  await mkdir(ARTIFACTS, { recursive: true })
  // The stream ends now, so freshness is within the SLA of most views; the generator makes late events.
  const start = new Date(Date.now() - 10 * 60_000).toISOString()
  await runKfs(['apply'], env)
  await runKfs(['produce', '--generate', '4000', '--start', start, '--seed', '3'], env)
  await runKfs(['run', '--until-caught-up', '--idle', '1s'], env)
  const serve = startKfs(['serve'], env)
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  try {
    const base = `http://127.0.0.1:${port}`
    let ready = false
    for (let i = 0; i < 100 && !ready; i++) {
      await new Promise((r) => setTimeout(r, 200))
      ready = await fetch(`${base}/healthz`).then((r) => r.ok, () => false)
    }
    assert.ok(ready, `kfs serve did not start: ${serve.child.exitCode ?? ''}`)
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
    // The first load starts the status refresh (registry, offline tables, checkpoints, dead-letter topic); wait for it.
    await page.goto(`${base}/`)
    let text = ''
    for (let i = 0; i < 50; i++) {
      await page.reload()
      text = await page.locator('#view-user_clicks-1').innerText()
      if (/Dead letters\s+\d+/.test(text) && /old \(SLA/.test(text) && /records behind/.test(text) && /Offline rows: \d/.test(text)) break
      await new Promise((r) => setTimeout(r, 200))
    }
    // Live freshness from the offline table's newest as_of, judged against the view's SLA.
    assert.match(text, /Freshness\s+(✓|⚠)[^\n]*old \(SLA 30s\)/)
    assert.match(text, /Last as_of\s+\d{4}-\d\d-\d\dT/)
    assert.match(text, /Backfill\s+(complete|not needed|running)/)
    // The engine stopped caught up: checkpoints exist and nothing is left to read.
    assert.match(text, /Engine\s+last checkpoint \d{4}-\d\d-\d\dT[^\n]*· 0 records behind/)
    // Rows and null rates per feature, from the offline table's column statistics.
    const rows = Number(await page.locator('#view-user_clicks-1 .rows [data-rows]').getAttribute('data-rows'))
    assert.ok(rows > 0, `offline rows shown: ${rows}`)
    // Four scalar features have a rate; the list feature (last_n) has none (its statistics count elements).
    const rates = (await page.locator('#view-user_clicks-1 td.null-rate[data-rate]').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-rate')))).map(Number)
    assert.equal(rates.length, 4)
    assert.ok(rates.every((r) => r >= 0 && r <= 1), String(rates))
    // The generator's late events are dead letters of the clicks views.
    const letters = Number(/Dead letters\s+(\d+)/.exec(text)?.[1])
    assert.ok(letters > 0, `dead letters shown: ${text}`)
    assert.match(text, /late\s+\d+/)
    const lineage = page.locator('svg#lineage')
    assert.ok((await lineage.locator('text').allTextContents()).some((t) => t.includes('user_clicks')), 'the lineage graph names the views')
    await page.screenshot({ path: `${ARTIFACTS}/demo-catalog-full.png`, fullPage: true })
    await page.locator('#view-user_clicks-1').screenshot({ path: `${ARTIFACTS}/demo-catalog-user-clicks.png` })
    await lineage.screenshot({ path: `${ARTIFACTS}/demo-catalog-lineage.png` })
  } finally {
    await browser.close()
    serve.child.kill('SIGTERM')
    await serve.done
    await rm(dataDir, { recursive: true, force: true })
  }
})
