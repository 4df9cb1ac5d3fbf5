// The tail of a job's log for a failure reason: what the program said last
// (its stderr and stdout share the log), so "exit code 3" comes with the
// error that explains it. Pure.

/**
 * The last `lines` non-blank lines of `text` (the end of a log, possibly cut
 * mid-line at its start), trimmed, joined by " | ", at most `chars`
 * characters (cut at the front, marked "…"). '' for an empty log.
 */
export function logTail (text: string, o: { lines?: number, chars?: number } = {}): string {
  const lines = text.split(/\r?\n/).map(l => l.trim()).filter(l => l !== '').slice(-(o.lines ?? 5))
  const joined = lines.join(' | ')
  const max = o.chars ?? 400
  return joined.length <= max ? joined : `…${joined.slice(joined.length - max + 1)}`
}

/** A failure reason with the log's tail: "exit code 3; log tail: Traceback … | ValueError: no hits". */
export function withLogTail (reason: string, tail: string): string {
  return tail === '' ? reason : `${reason}; log tail: ${tail}`
}
