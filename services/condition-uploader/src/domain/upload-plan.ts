// Upload planning: which IOVs to append to the destination tag and which
// payloads to store, so that the same (tag, since, payload hash) is never
// appended twice, whatever is redelivered or retried.
import type { SinceIov } from './since-rules.ts'

export interface UploadPlan {
  /** IOVs to append, sorted by since. */
  append: SinceIov[]
  /** IOVs the tag already has with the same since and payload hash. */
  alreadyPresent: SinceIov[]
  /** Payload hashes the target lacks and the appended IOVs need. */
  payloadsToStore: string[]
}

export function iovKey (iov: SinceIov): string {
  return `${iov.since}/${iov.payloadHash}`
}

/**
 * @param wanted IOVs the validated request uploads
 * @param existing every IOV row the destination tag has (superseded rows too)
 * @param storedPayloads payload hashes the target already has
 */
export function planUpload (wanted: readonly SinceIov[], existing: readonly SinceIov[], storedPayloads: ReadonlySet<string>): UploadPlan {
  const have = new Set(existing.map(iovKey))
  const append: SinceIov[] = []
  const alreadyPresent: SinceIov[] = []
  const seen = new Set<string>()
  for (const iov of wanted) {
    const key = iovKey(iov)
    if (seen.has(key)) continue
    seen.add(key)
    if (have.has(key)) alreadyPresent.push(iov)
    else append.push(iov)
  }
  append.sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : 0))
  const payloadsToStore = [...new Set(append.map(i => i.payloadHash))].filter(h => !storedPayloads.has(h))
  return { append, alreadyPresent, payloadsToStore }
}
