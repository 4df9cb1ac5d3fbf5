// Who may inject run facts over HTTP. Tokens have the control API's format
// (task-dispatcher AUTOCAL_CONTROL_TOKENS): a JSON object
// {"<token>": {"principal": "alice", "subsystems": ["ECAL"] | "*"}}, tokens of
// at least 8 characters. Only the SHA-256 digest of each token is kept, and a
// presented token is compared with every digest in constant time.
//
// Scope: the runs topic is shared by every subsystem (each prompt campaign of
// each subsystem acts on the live runs), so announcing or rewriting a run
// fact touches every subsystem: it needs a token for every subsystem ("*").
// A token scoped to some subsystems is refused (403). Injecting runs into a
// campaign is a control command (`autocal runs inject`, the dispatcher's
// control API checks its subsystems), never done here.
import { createHash, timingSafeEqual } from 'node:crypto'

export interface InjectPrincipal {
  principal: string
  /** Subsystems the token may act for; "*" = all. */
  subsystems: string[]
}

export interface InjectToken extends InjectPrincipal {
  /** SHA-256 of the token. */
  digest: Buffer
}

/** SHA-256 digest of a token (what is stored and compared). */
export function tokenDigest (token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

/**
 * Parses the tokens' JSON (from AUTOCAL_INJECT_TOKENS or the file named by
 * AUTOCAL_INJECT_TOKENS_FILE; `what` names it in errors). Returns the tokens
 * (digests only) or the reason they were refused; never echoes a token.
 */
export function parseInjectTokens (json: string, what: string): InjectToken[] | string {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch {
    return `${what}: not JSON; expected {"<token>": {"principal": "<name>", "subsystems": ["ECAL", ...] | "*"}} (the old "<principal>:<token>,..." form has no scope and is no longer read)`
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return `${what}: expected an object {"<token>": {"principal": "<name>", "subsystems": [...] | "*"}}`
  const out: InjectToken[] = []
  for (const [i, [token, value]] of Object.entries(raw as Record<string, unknown>).entries()) {
    const p = value as { principal?: unknown, subsystems?: unknown } | null
    const subsystems = p?.subsystems === '*' ? ['*'] : p?.subsystems
    if (typeof p?.principal !== 'string' || p.principal === '' || !Array.isArray(subsystems) || !subsystems.every(s => typeof s === 'string')) {
      return `${what}: entry ${i + 1}: expected {"principal": "<name>", "subsystems": ["ECAL", ...] | "*"}`
    }
    if (token.length < 8) return `${what}: entry ${i + 1} (${p.principal}): the token is shorter than 8 characters`
    out.push({ principal: p.principal, subsystems: subsystems as string[], digest: tokenDigest(token) })
  }
  return out
}

/**
 * The principal of a presented token, or undefined. Every stored digest is
 * compared (crypto.timingSafeEqual over equal-length SHA-256 digests), so the
 * time taken says nothing about which token, or how much of one, matched.
 */
export function principalOf (tokens: readonly InjectToken[], presented: string): InjectPrincipal | undefined {
  const digest = tokenDigest(presented)
  let found: InjectToken | undefined
  for (const t of tokens) if (timingSafeEqual(t.digest, digest) && found === undefined) found = t
  return found === undefined ? undefined : { principal: found.principal, subsystems: found.subsystems }
}

export type InjectDecision = { ok: true } | { ok: false, status: 403, reason: string }

/** Whether a principal may announce run facts: they are every subsystem's, so only a token for all ("*"). */
export function mayInjectRunFacts (p: InjectPrincipal): InjectDecision {
  if (p.subsystems.includes('*')) return { ok: true }
  return { ok: false, status: 403, reason: `${p.principal} may act for ${p.subsystems.join(', ') || 'no subsystem'}, but run facts are shared by every subsystem: injecting them needs a token for "*"` }
}
