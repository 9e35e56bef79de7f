/**
 * Imports a user's TypeScript module (a definitions file) whatever TypeScript it is written in.
 * On Node 24 kfs's own modules load by Node's type stripping (bin/kfs.mjs), which takes erasable
 * syntax only and resolves only written-out extensions; a user's module may use an enum, a
 * namespace or `import './helpers'`. So tsx's loader is registered for the import and taken off
 * after it: modules kfs already loaded stay the same instances (the same URLs), and the kfs code
 * loaded later is stripped by Node again. A function's text differs between the two loaders, and
 * the definition hash does not see it (features/closure/canonical-text.ts).
 */
/** Whether tsx already loads modules here: `node --import tsx`, the tsx CLI, or a Node that cannot strip types (bin/kfs.mjs registered tsx). */
function tsxRuns(): boolean {
  if (!process.features.typescript) return true
  return [...process.execArgv, process.env['NODE_OPTIONS'] ?? ''].some((arg) => arg.includes('tsx'))
}

export async function importUserModule(url: string): Promise<unknown> {
  if (tsxRuns()) return import(url)
  // Loaded here, not at start: a command that loads no definitions pays nothing for tsx.
  const { register } = await import('tsx/esm/api')
  const unregister = register()
  try {
    return await import(url)
  } finally {
    await unregister()
  }
}
