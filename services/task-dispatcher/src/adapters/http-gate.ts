// The custom HTTP predicate of a gate: GET the URL; the gate is open when the
// answer has the expected status.
export async function askHttpGate (url: string, status: number, timeoutMs = 5000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    await res.body?.cancel()
    return res.status === status
  } catch {
    return false
  }
}
