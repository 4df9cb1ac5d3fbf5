// Protobuf timestamps as plain numbers and strings, without a protobuf import.

/** Milliseconds since the epoch of a google.protobuf.Timestamp, or undefined when unset. */
export function millisOf (ts: { seconds: bigint, nanos: number } | undefined): number | undefined {
  if (ts === undefined) return undefined
  const ms = Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6)
  return ms === 0 ? undefined : ms
}

/** ISO 8601 form of a timestamp, or undefined when unset. */
export function isoOf (ts: { seconds: bigint, nanos: number } | undefined): string | undefined {
  const ms = millisOf(ts)
  return ms === undefined ? undefined : new Date(ms).toISOString()
}

/** Milliseconds of an ISO string, or undefined. */
export function millisOfIso (iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? undefined : ms
}
