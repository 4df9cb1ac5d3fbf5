// The payload hash as CMS computes it: SHA-1 of the OBJECT_TYPE bytes
// followed by the DATA bytes, 40 lower-case hex characters.
import { createHash } from 'node:crypto'

export function payloadHash (objectType: string, data: Uint8Array): string {
  return createHash('sha1').update(Buffer.from(objectType, 'utf8')).update(data).digest('hex')
}

export function isPayloadHash (s: string): boolean {
  return /^[0-9a-f]{40}$/.test(s)
}
