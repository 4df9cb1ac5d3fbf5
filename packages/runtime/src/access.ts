// Tokens and who may read: one implementation for every service.
//
// Tokens are kept only as SHA-256 digests and a presented token is compared
// with every configured digest through crypto.timingSafeEqual, so neither
// the length nor a common prefix of a configured token shows in the time an
// answer takes, and every check looks at every token.
//
// Read access (HTTP read APIs, read RPCs): a deployment either serves reads
// publicly (AUTOCAL_READ_PUBLIC=true) or to bearer read tokens
// (AUTOCAL_READ_TOKENS "<principal>:<token>,…"); /healthz, /readyz and
// /metrics stay open. A browser presents its read token once and keeps it in
// an HttpOnly cookie (`autocal_read`), which the check accepts like the
// Authorization header.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { Logger } from './logger.ts'

/** Shortest token accepted in configuration (characters). */
export const tokenMinLength = 8

/** SHA-256 digest of a token: what is stored and compared, never the token. */
export function tokenDigest (token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

/** Who a token belongs to and which subsystems it may act for or read ("*" = all). */
export interface TokenPrincipal {
  principal: string
  subsystems: string[]
}

/** A set of tokens answering "whose is this token?" in constant time on digests. */
export interface TokenIndex<T> {
  /** The value of the presented token, or undefined (also for no token). */
  lookup: (presented: string | undefined) => T | undefined
  /** How many tokens are configured. */
  size: number
}

/**
 * A token index over [token, value] pairs. Only digests are kept; a lookup
 * compares the presented token's digest with every stored one
 * (crypto.timingSafeEqual over equal-length digests) before answering.
 */
export function createTokenIndex<T> (entries: Iterable<readonly [string, T]>): TokenIndex<T> {
  const known = [...entries].map(([token, value]) => ({ digest: tokenDigest(token), value }))
  return {
    size: known.length,
    lookup: presented => {
      if (presented === undefined) return undefined
      const d = tokenDigest(presented)
      let found: T | undefined
      let hit = false
      for (const k of known) {
        if (timingSafeEqual(k.digest, d) && !hit) {
          hit = true
          found = k.value
        }
      }
      return found
    }
  }
}

/**
 * "<name><sep><token>,…" (sep '=' for agents: `agent-a=tok1,agent-b=tok2`,
 * ':' for read tokens: `alice:tok1`), commas or line breaks between entries
 * (a file may hold one per line; `#` starts a comment line). Returns the
 * pairs [name, token], or the problem naming `key` and the entry (never the
 * token itself). A name may appear once, a token once.
 */
export function parseTokenList (text: string, sep: '=' | ':', key: string): { ok: true, entries: Array<[string, string]> } | { ok: false, problem: string } {
  const entries: Array<[string, string]> = []
  const names = new Set<string>()
  const tokens = new Set<string>()
  const parts = text.split(/[,\n]/).map(p => p.trim()).filter(p => p !== '' && !p.startsWith('#'))
  for (const [i, part] of parts.entries()) {
    const at = part.indexOf(sep)
    const name = at > 0 ? part.slice(0, at).trim() : ''
    const token = at > 0 ? part.slice(at + 1).trim() : ''
    if (name === '' || token === '') return { ok: false, problem: `${key}: entry ${i + 1} is not <name>${sep}<token> (expected <name>${sep}<token>[,<name>${sep}<token>…])` }
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$/.test(name)) return { ok: false, problem: `${key}: entry ${i + 1}: name ${JSON.stringify(name.slice(0, 40))} must be letters, digits, _ . @ - (at most 100)` }
    if (token.length < tokenMinLength) return { ok: false, problem: `${key}: the token of ${name} is shorter than ${tokenMinLength} characters` }
    if (names.has(name)) return { ok: false, problem: `${key}: ${name} has more than one token` }
    if (tokens.has(token)) return { ok: false, problem: `${key}: the token of ${name} is also another entry's token; each must be its own` }
    names.add(name)
    tokens.add(token)
    entries.push([name, token])
  }
  return { ok: true, entries }
}

/**
 * Scoped tokens, the control API's and run injection's format: a JSON object
 * {"<token>": {"principal": "alice", "subsystems": ["ECAL"] | "*"}}, tokens of
 * at least 8 characters. `key` names the setting in errors. Returns the
 * [token, principal] pairs or the problem (never the token itself).
 */
export function parseScopedTokens (json: string, key: string): Array<[string, TokenPrincipal]> | string {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch {
    return `${key}: not JSON; expected {"<token>": {"principal": "<name>", "subsystems": ["ECAL", ...] | "*"}}`
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return `${key}: expected an object {"<token>": {"principal": "<name>", "subsystems": ["ECAL", ...] | "*"}}`
  const out: Array<[string, TokenPrincipal]> = []
  for (const [i, [token, value]] of Object.entries(raw as Record<string, unknown>).entries()) {
    const p = value as { principal?: unknown, subsystems?: unknown } | null
    const subsystems = p?.subsystems === '*' ? ['*'] : p?.subsystems
    if (typeof p?.principal !== 'string' || p.principal === '' || !Array.isArray(subsystems) || !subsystems.every(s => typeof s === 'string')) {
      return `${key}: entry ${i + 1}: expected {"principal": "<name>", "subsystems": ["ECAL", ...] | "*"}`
    }
    if (token.length < tokenMinLength) return `${key}: entry ${i + 1} (${p.principal}): the token is shorter than ${tokenMinLength} characters`
    out.push([token, { principal: p.principal, subsystems: subsystems as string[] }])
  }
  return out
}

/** A JSON setting of scoped tokens (parseScopedTokens' format, default none) → [token, principal] pairs; a bad one is a config error naming `key`. */
export const scopedTokensSchema = (key: string) => z.string().default('{}').transform((v, ctx) => {
  const parsed = parseScopedTokens(v, key)
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed })
    return z.NEVER
  }
  return parsed
})

/** Whether a scope (a token's subsystems, "*" = all) covers `subsystem`; undefined (a system-wide thing) needs "*". */
export function scopeAllows (scope: readonly string[], subsystem: string | undefined): boolean {
  return scope.includes('*') || (subsystem !== undefined && scope.includes(subsystem))
}

/** "<principal>:<token>,…" → [principal, token] pairs; a bad entry is a config error naming the key. */
export const tokenListSchema = (sep: '=' | ':', key: string) => z.string().transform((v, ctx) => {
  const parsed = parseTokenList(v, sep, key)
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: parsed.problem })
    return z.NEVER
  }
  return parsed.entries
})

/** The read-access keys every service with a read API takes. */
export const readShape = {
  /** Tokens that may read: "<principal>:<token>,…" (commas or line breaks). */
  AUTOCAL_READ_TOKENS: tokenListSchema(':', 'AUTOCAL_READ_TOKENS').default([]),
  /** Serve reads without a token (a deployment's explicit choice). */
  AUTOCAL_READ_PUBLIC: z.stringbool().default(false)
}

/** Who may read: everyone, or whoever presents a token of the index. */
export type ReadAccess = { public: true } | { public: false, tokens: TokenIndex<TokenPrincipal> }

/** The read access of a service from its AUTOCAL_READ_TOKENS / AUTOCAL_READ_PUBLIC (read tokens read every subsystem). */
export function readAccessOf (config: { AUTOCAL_READ_TOKENS: Array<[string, string]>, AUTOCAL_READ_PUBLIC: boolean }): ReadAccess {
  if (config.AUTOCAL_READ_PUBLIC) return { public: true }
  return { public: false, tokens: createTokenIndex(config.AUTOCAL_READ_TOKENS.map(([principal, token]) => [token, { principal, subsystems: ['*'] }] as const)) }
}

/** Name of the cookie a browser keeps its read token in. */
export const readCookie = 'autocal_read'

/** The bearer token of an `Authorization: Bearer <token>` header value. */
export function bearerOfHeader (header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1]
}

/** A cookie value percent-decoded, or as it is when it is not valid percent-encoding. */
function cookieValue (raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/**
 * The read token a request presents: its bearer header, else its `autocal_read` cookie
 * (percent-decoded; a value that is not valid percent-encoding is taken as it is, so it is
 * an unknown token, 401, and never a URIError thrown out of every route as a 500).
 */
export function presentedReadToken (req: Pick<FastifyRequest, 'headers'>): string | undefined {
  const bearer = bearerOfHeader(req.headers.authorization)
  if (bearer !== undefined) return bearer
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=')
    if (at > 0 && part.slice(0, at).trim() === readCookie) {
      const value = cookieValue(part.slice(at + 1).trim())
      return value === '' ? undefined : value
    }
  }
  return undefined
}

/**
 * A peer as audit records spell it: ipv4:127.0.0.1:50312, ipv6:[::1]:50312.
 * Takes an address and port (an HTTP socket's) or grpc-js' getPeer() text
 * ("127.0.0.1:50312", "[::1]:50312", already-prefixed forms kept).
 */
export function auditPeer (address: string | undefined, port?: number): string {
  if (address === undefined) return 'unknown'
  if (port !== undefined) return address.includes(':') ? `ipv6:[${address}]:${port}` : `ipv4:${address}:${port}`
  if (/^(ipv4|ipv6|unix):/.test(address)) return address
  if (address.startsWith('[')) return `ipv6:${address}`
  return /^\d+\.\d+\.\d+\.\d+:\d+$/.test(address) ? `ipv4:${address}` : address
}

/** Paths open to everyone whatever the read access: probes and Prometheus. */
export const alwaysOpen: readonly string[] = ['/healthz', '/readyz', '/metrics']

export interface GuardReadsOptions {
  access: ReadAccess
  logger: Logger
  /** Route patterns (fastify's, e.g. '/console/static/:file') also open to everyone. */
  open?: readonly string[]
}

/**
 * Puts every route of `app` (registered before or after) behind the read
 * access, except /healthz, /readyz, /metrics and `open`: a request without an
 * accepted token is answered 401 (`WWW-Authenticate: Bearer`) and logged
 * with its peer and the reason. Unknown paths are refused too (no probing
 * of what exists). The accepted principal is `req.reader`.
 */
export function guardReads (app: FastifyInstance, options: GuardReadsOptions): void {
  const open = new Set([...alwaysOpen, ...(options.open ?? [])])
  const log = options.logger.child({ component: 'read-access' })
  app.decorateRequest('reader', undefined)
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url
    if (route !== undefined && open.has(route)) return
    if (options.access.public) return
    const token = presentedReadToken(req)
    const who = options.access.tokens.lookup(token)
    if (who !== undefined) {
      (req as FastifyRequest & { reader?: TokenPrincipal }).reader = who
      return
    }
    const reason = token === undefined ? 'missing read token' : 'unknown token'
    log.warn({ peer: req.ip, method: req.method, url: req.url.split('?')[0], reason }, 'read refused')
    return await reply.code(401).header('www-authenticate', 'Bearer').send({ error: token === undefined ? 'a read token is needed (Authorization: Bearer <token>)' : 'token not accepted' })
  })
}
