// Bearer tokens: parsed from configuration, compared in constant time on
// their SHA-256 digests (so neither the length nor a common prefix of a
// configured token shows in the time an answer takes), every configured
// token looked at for every check. Pure.
import { createHash, timingSafeEqual } from 'node:crypto'

/** Shortest token accepted in configuration. */
export const tokenMinLength = 8

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest()

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
 * A check of presented tokens against configured [name, token] pairs: the
 * name a token belongs to, or undefined. Constant time on digests.
 */
export function tokenChecker (entries: ReadonlyArray<readonly [string, string]>): (presented: string | undefined) => string | undefined {
  const known = entries.map(([name, token]) => ({ name, digest: digest(token) }))
  return presented => {
    if (presented === undefined) return undefined
    const d = digest(presented)
    let found: string | undefined
    for (const k of known) if (timingSafeEqual(k.digest, d) && found === undefined) found = k.name
    return found
  }
}
