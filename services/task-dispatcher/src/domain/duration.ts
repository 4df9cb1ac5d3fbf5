// Durations in workflow files: "90s", "30m", "2h", "3d", "1h30m", "2 hours",
// or a plain number of seconds. The units are parse-duration's (ms, s/sec,
// m/min, h/hr/hours, d/day, w/week, …).
import parse from 'parse-duration'

/**
 * Seconds of a duration, or undefined when it is not one. Every part must be
 * a number with a unit parse-duration knows ("2h soon" and "5 foo" are not
 * durations, where parse-duration alone would read the first as 2 h); a
 * plain number is seconds; negative values are refused.
 */
export function parseDuration (value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined
  const text = value.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text)
  const parts = text.match(/\d+(?:\.\d+)?\s*[a-zµ]+/giu) ?? []
  if (parts.length === 0 || parts.join('').replace(/\s+/g, '') !== text.replace(/\s+/g, '')) return undefined
  let total = 0
  for (const part of parts) {
    const seconds = parse(part, 's')
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return undefined
    total += seconds
  }
  return total
}
