// An OIDC client-credentials token, fetched from the token endpoint and
// refreshed before it expires (or when the API says 401).
import { AutocalError } from '@autocal/runtime'

export interface TokenSource {
  token: () => Promise<string>
  /** Forget the cached token (after a 401). */
  invalidate: () => void
}

export interface ClientCredentials {
  tokenUrl: string
  clientId: string
  clientSecret: string
  audience?: string | undefined
  timeoutMs: number
}

export function clientCredentialsToken (c: ClientCredentials): TokenSource {
  let cached: { value: string, expiresAtMs: number } | undefined
  return {
    invalidate: () => { cached = undefined },
    token: async () => {
      if (cached !== undefined && cached.expiresAtMs - 30_000 > Date.now()) return cached.value
      const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret })
      if (c.audience !== undefined) body.set('audience', c.audience)
      const res = await fetch(c.tokenUrl, { method: 'POST', body, headers: { accept: 'application/json' }, signal: AbortSignal.timeout(c.timeoutMs) })
      if (!res.ok) throw new AutocalError('AUTOCAL_SOURCE_FAILED', `token endpoint ${c.tokenUrl} answered ${res.status}`)
      const json = await res.json() as { access_token?: unknown, expires_in?: unknown }
      if (typeof json.access_token !== 'string') throw new AutocalError('AUTOCAL_SOURCE_FAILED', `token endpoint ${c.tokenUrl} gave no access_token`)
      cached = { value: json.access_token, expiresAtMs: Date.now() + (typeof json.expires_in === 'number' ? json.expires_in : 300) * 1000 }
      return cached.value
    }
  }
}
