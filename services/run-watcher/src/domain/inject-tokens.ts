// Who may inject run facts over HTTP. Tokens have the control API's format
// (task-dispatcher AUTOCAL_CONTROL_TOKENS), parsed and checked by the
// runtime's token index (src/inject-tokens.ts); this module holds the rule.
//
// Scope: the runs topic is shared by every subsystem (each prompt campaign of
// each subsystem acts on the live runs), so announcing or rewriting a run
// fact touches every subsystem: it needs a token for every subsystem ("*").
// A token scoped to some subsystems is refused (403). Injecting runs into a
// campaign is a control command (`autocal runs inject`, the dispatcher's
// control API checks its subsystems), never done here.

export interface InjectPrincipal {
  principal: string
  /** Subsystems the token may act for; "*" = all. */
  subsystems: string[]
}

export type InjectDecision = { ok: true } | { ok: false, status: 403, reason: string }

/** Whether a principal may announce run facts: they are every subsystem's, so only a token for all ("*"). */
export function mayInjectRunFacts (p: InjectPrincipal): InjectDecision {
  if (p.subsystems.includes('*')) return { ok: true }
  return { ok: false, status: 403, reason: `${p.principal} may act for ${p.subsystems.join(', ') || 'no subsystem'}, but run facts are shared by every subsystem: injecting them needs a token for "*"` }
}
