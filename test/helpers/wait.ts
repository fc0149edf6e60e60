/** The one polling wait of the tests and benches: `cond` every `everyMs` until it holds; throws after `timeoutMs` naming `what` (computed then, if a function). */
export async function waitFor(what: string | (() => string), cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, everyMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
