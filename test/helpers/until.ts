// The tests' one wait: polls a condition until it holds, and fails with what
// was awaited once the deadline passes, so that a regression fails instead
// of hanging the suite.

/**
 * Resolves once `predicate` returns true (checked every `everyMs`, default
 * 50 ms); rejects with "timed out after N ms waiting for <what>" after
 * `timeoutMs` (default 60 s). An error thrown by `predicate` rejects at once.
 */
export async function until (what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 60_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}
