// The console's one action: sending a dead letter back to its source topic.
//   GET  /console/api/me                                  who the caller is and whether it may act (the page shows the redrive buttons from it)
//   POST /console/api/dlq/:partition/:offset/redrive      body {"reason": "<why the cause is fixed>"}; the id is the dead letter's
//                                                          "<partition>/<offset>" on the DLQ topic (as `autocal dlq list` prints it)
// Who may: a control token (AUTOCAL_CONTROL_TOKENS, bearer header or the
// console's sign-in cookie) whose subsystems cover the message's subsystem,
// or "*" for a message of no subsystem; a read token is refused (403), no or
// an unknown token too (401). Only the topics of consoleRedriveTopics are
// sent back from here (the metrics principal may write only those). Every
// attempt, accepted or refused, is an AuditRecord on autocal.audit.v1
// (@autocal/runtime's openRedriver / auditRedrive): principal, peer, target
// "<dlq topic>/<id>", reason. The browser sends JSON (a cross-site form
// cannot, and the cookie is SameSite=Strict).
import { maxOperatorReason, operatorReasonProblem, topicName, topics } from '@autocal/contracts'
import {
  auditPeer, auditRedrive, consoleRedriveTopics, openRedriver, presentedReadToken, scopeAllows, sourceTopicOf,
  type AuditWriter, type KafkaConfig, type Logger, type Producer, type RedriveOutcome, type TokenIndex, type TokenPrincipal, type buildHttp
} from '@autocal/runtime'
import type { ConsoleStore, DeadLetterView } from '../adapters/console-store.ts'

type App = Awaited<ReturnType<typeof buildHttp>>

export interface RedriveDeps {
  config: KafkaConfig
  logger: Logger
  /** Writes the audit records (the metrics principal writes autocal.audit.v1). */
  producer: Producer
  /** Writes the refusals' audit records (anonymous ones throttled per peer: runtime audit-throttle.ts). */
  auditor: AuditWriter
  /** Control tokens: may act for their subsystems. */
  controlTokens: TokenIndex<TokenPrincipal>
  /** Read tokens: may read, not act (told apart from unknown tokens: 403, not 401). */
  readTokens: TokenIndex<TokenPrincipal>
  views: ConsoleStore
}

/** The route's pattern (open in guardReads: it checks its own token and audits every refusal). */
export const redriveRoute = '/console/api/dlq/:partition/:offset/redrive'

/** A dead letter's id as the route takes it: `<partition>/<offset>` on the DLQ topic. */
const deadLetterIdRe = /^\d{1,9}\/\d{1,19}$/
const statusOf: Record<Extract<RedriveOutcome, { kind: 'refused' }>['status'], number> = { forbidden: 403, 'not-found': 404, already: 409, 'not-kafka': 409 }
const service = 'autocal/metrics'

/** Why `actor` may not send back a dead letter of `sourceTopic` and `subsystem`, or undefined when it may. */
export function redriveRefusal (actor: TokenPrincipal, sourceTopic: string, allowed: boolean, subsystem: string | undefined): string | undefined {
  if (!allowed) return `the console sends back only ${consoleRedriveTopics.map(id => topics[id].name).join(', ')}; ${sourceTopic} needs \`autocal dlq redrive\` with an operator's Kafka credentials`
  if (scopeAllows(actor.subsystems, subsystem)) return undefined
  const scope = actor.subsystems.join(', ') || 'no subsystem'
  return subsystem === undefined
    ? `${actor.principal} may act for ${scope}, but a message of no subsystem needs a "*" token`
    : `${actor.principal} may act for ${scope}, but the message is ${subsystem}'s`
}

/** What the health page needs to know: whether the caller of `req` may send back the dead letter `view` (shows the button). */
export interface RedrivePolicy {
  mayRedrive: (req: Parameters<typeof presentedReadToken>[0], view: Pick<DeadLetterView, 'id' | 'topic' | 'partition' | 'subsystem'>, redriven: boolean) => boolean
}

/** Registers GET /console/api/me and the redrive route; returns the policy the health page shows the buttons by (the route's own rule). */
export function registerRedrive (app: App, deps: RedriveDeps): RedrivePolicy {
  const { config, producer, controlTokens, readTokens, views } = deps
  const log = deps.logger.child({ component: 'redrive' })
  const prefix = config.AUTOCAL_KAFKA_TOPIC_PREFIX
  const dlqTopic = topicName(topics.dlq, prefix)
  const underWay = new Set<string>()

  app.get('/console/api/me', async req => {
    const token = presentedReadToken(req)
    const actor = controlTokens.lookup(token)
    if (actor !== undefined) return { principal: actor.principal, control: true, subsystems: actor.subsystems }
    return { principal: readTokens.lookup(token)?.principal ?? 'anonymous', control: false, subsystems: [] }
  })

  app.post<{ Params: { partition: string, offset: string }, Body: unknown }>(redriveRoute, async (req, reply) => {
    const id = `${req.params.partition}/${req.params.offset}`
    // the caller's text, maybe anonymous: in audit and log only as a well-formed id or quoted and cut (no line breaks or control characters)
    const shownId = deadLetterIdRe.test(id) ? id : JSON.stringify(id.slice(0, 60))
    const peer = auditPeer(req.socket.remoteAddress, req.socket.remotePort)
    const token = presentedReadToken(req)
    const actor = controlTokens.lookup(token)
    const refuse = async (status: number, principal: string, reason: string, error: string) => {
      await auditRedrive({ auditor: producer, service, dlqTopic, writer: deps.auditor }, { id: shownId, principal, peer }, { accepted: false, reason })
      log.warn({ peer, principal, id: shownId, reason }, 'redrive refused')
      return await reply.code(status).send({ error, message: reason })
    }
    if (actor === undefined) {
      const reader = readTokens.lookup(token)
      if (reader !== undefined) return await refuse(403, reader.principal, `${reader.principal} holds a read token: it may read, not act`, 'AUTOCAL_FORBIDDEN')
      return await refuse(401, 'anonymous', token === undefined ? 'no control token' : 'unknown token', 'AUTOCAL_UNAUTHENTICATED')
    }
    if (!deadLetterIdRe.test(id)) return await refuse(400, actor.principal, `dead letter id must be <partition>/<offset>, got ${shownId}`, 'AUTOCAL_VALIDATION_FAILED')
    const body = req.body as { reason?: unknown } | undefined
    const reason = typeof body?.reason === 'string' ? body.reason.trim() : ''
    if (reason === '') return await refuse(400, actor.principal, `a reason is needed (JSON body {"reason": "<why the cause is fixed>"}, at most ${maxOperatorReason} characters)`, 'AUTOCAL_VALIDATION_FAILED')
    const reasonProblem = operatorReasonProblem(reason)
    if (reasonProblem !== undefined) return await refuse(400, actor.principal, reasonProblem, 'AUTOCAL_VALIDATION_FAILED')
    if (underWay.has(id)) return await refuse(409, actor.principal, `a redrive of ${id} is under way`, 'AUTOCAL_BUSY')
    underWay.add(id)
    try {
      await using redriver = await openRedriver({ config, logger: deps.logger, clientId: 'metrics-redrive', auditor: producer, service })
      const outcome = await redriver.redrive({
        id,
        principal: actor.principal,
        peer,
        reason,
        authorise: (entry, subsystem) => {
          const source = sourceTopicOf(entry.letter, prefix)
          return redriveRefusal(actor, entry.letter.topic, source !== undefined && consoleRedriveTopics.includes(source), subsystem)
        }
      })
      if (outcome.kind === 'refused') {
        log.warn({ peer, principal: actor.principal, id, reason: outcome.reason }, 'redrive refused')
        return await reply.code(statusOf[outcome.status]).send({ error: outcome.status === 'forbidden' ? 'AUTOCAL_FORBIDDEN' : outcome.status === 'not-found' ? 'AUTOCAL_NOT_FOUND' : 'AUTOCAL_VALIDATION_FAILED', message: outcome.reason })
      }
      await views.markRedriven(id, { principal: actor.principal, at: new Date().toISOString(), reason })
      log.info({ peer, principal: actor.principal, id, topic: outcome.topic, partition: outcome.partition, offset: outcome.offset }, 'dead letter redriven')
      return { redriven: id, topic: outcome.topic, partition: outcome.partition, offset: outcome.offset, principal: actor.principal }
    } catch (err) {
      log.error({ err, id }, 'redrive failed')
      return await reply.code(503).send({ error: 'AUTOCAL_UNAVAILABLE', message: `Kafka did not take the redrive of ${id}: ${(err as Error).message}` })
    } finally {
      underWay.delete(id)
    }
  })

  return {
    mayRedrive: (req, view, redriven) => {
      const actor = controlTokens.lookup(presentedReadToken(req))
      if (actor === undefined || redriven || typeof view.id !== 'string' || view.partition < 0 || view.topic.startsWith('source:')) return false
      const source = sourceTopicOf(view, prefix)
      return redriveRefusal(actor, view.topic, source !== undefined && consoleRedriveTopics.includes(source), view.subsystem ?? undefined) === undefined
    }
  }
}
