// The injection tokens: the control API's JSON format, kept as SHA-256
// digests and compared in constant time by the runtime's token index.
import { createTokenIndex, parseScopedTokens, type TokenIndex, type TokenPrincipal } from '@autocal/runtime'

/**
 * Parses the tokens' JSON (from AUTOCAL_INJECT_TOKENS or the file named by
 * AUTOCAL_INJECT_TOKENS_FILE; `what` names it in errors) into a token index
 * (digests only), or the reason they were refused; never echoes a token.
 */
export function parseInjectTokens (json: string, what: string): TokenIndex<TokenPrincipal> | string {
  const parsed = parseScopedTokens(json, what)
  if (typeof parsed === 'string') return parsed.includes('not JSON') ? `${parsed} (the old "<principal>:<token>,..." form has no scope and is no longer read)` : parsed
  return createTokenIndex(parsed)
}
