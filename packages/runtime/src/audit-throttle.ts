// Audit records of anonymous refusals, held in check. Every refused call is
// audited (issue 12), but a caller without a known token could otherwise
// write to autocal.audit.v1 as fast as it can send requests. Per peer address,
// the first `perMinute` anonymous refusals of a minute are recorded one by
// one; the rest are counted and recorded as one summary record per peer when
// the minute is over (and at shutdown): nothing is dropped unsaid.
// Accepted actions and refusals of known principals are never held back.
import { randomUUID } from 'node:crypto'
import { create } from '@bufbuild/protobuf'
import { timestampFromMs } from '@bufbuild/protobuf/wkt'
import { RateLimiterMemory } from 'rate-limiter-flexible'
import { AuditRecordSchema, topics, type AuditRecord } from '@autocal/contracts'
import type { Producer } from './bus/producer.ts'

/** Anonymous refusals of one peer that were counted instead of recorded one by one. */
export interface HeldRefusals {
  /** Peer address without the port, as audit records spell it (ipv4:127.0.0.1, ipv6:[::1]). */
  peer: string
  /** Audit action of the refused calls, e.g. "control.Cancel", "runs.inject", "dlq.redrive". */
  action: string
  /** The auditing service, e.g. "autocal/task-dispatcher". */
  service: string
  count: number
  /** First and last held-back refusal, ms since the epoch. */
  firstAtMs: number
  lastAtMs: number
}

export interface AnonymousAuditThrottleOptions {
  /** Anonymous refusals recorded one by one per peer and minute (the rest are summarised). */
  perMinute: number
  /** Writes one summary record (e.g. an AuditRecord with details.held_back = count); a failure is retried at the next flush. */
  writeSummary: (held: HeldRefusals) => Promise<void>
  /** How often held-back refusals are summarised (ms); 60 s unless given. */
  flushMs?: number
  now?: () => number
}

export interface AnonymousAuditThrottle extends AsyncDisposable {
  /**
   * Whether the anonymous refusal of `peer` (an audit peer such as "ipv4:10.0.0.7:50312"; the port is
   * ignored) for `action` is recorded now. false: it was counted for the peer's summary instead.
   */
  admit: (peer: string, action: string, service: string) => Promise<boolean>
  /** Writes the summaries of everything held back so far; resolves with how many were written. */
  flush: () => Promise<number>
}

/** The address of an audit peer without its port: "ipv4:1.2.3.4:5" → "ipv4:1.2.3.4", "ipv6:[::1]:5" → "ipv6:[::1]". */
export function peerAddress (peer: string): string {
  const v6 = /^(ipv6:\[[^\]]*\]):\d+$/.exec(peer)
  if (v6 !== null) return v6[1]!
  const v4 = /^(ipv4:[\d.]+):\d+$/.exec(peer)
  return v4 === null ? peer : v4[1]!
}

/**
 * Builds the throttle (rate-limiter-flexible's in-memory limiter, one budget per peer address per minute).
 * Per process: with N replicas a peer may be recorded up to N × perMinute times a minute. Throws on a
 * perMinute below 1.
 */
export function createAnonymousAuditThrottle (options: AnonymousAuditThrottleOptions): AnonymousAuditThrottle {
  if (!Number.isInteger(options.perMinute) || options.perMinute < 1) throw new Error(`perMinute must be a whole number ≥ 1, got ${options.perMinute}`)
  const now = options.now ?? Date.now
  const limiter = new RateLimiterMemory({ points: options.perMinute, duration: 60 })
  const held = new Map<string, HeldRefusals>()

  async function flush (): Promise<number> {
    let written = 0
    for (const [key, h] of [...held]) {
      held.delete(key)
      try {
        await options.writeSummary(h)
        written++
      } catch {
        // kept for the next flush (merged with what came meanwhile)
        const later = held.get(key)
        held.set(key, later === undefined ? h : { ...h, count: h.count + later.count, lastAtMs: later.lastAtMs })
      }
    }
    return written
  }
  const timer = setInterval(() => { void flush() }, options.flushMs ?? 60_000)
  timer.unref()

  return {
    admit: async (peer, action, service) => {
      const address = peerAddress(peer)
      try {
        await limiter.consume(address)
        return true
      } catch {
        const key = `${address} ${action}`
        const t = now()
        const h = held.get(key)
        if (h === undefined) {
          held.set(key, { peer: address, action, service, count: 1, firstAtMs: t, lastAtMs: t })
        } else {
          h.count++
          h.lastAtMs = t
        }
        return false
      }
    },
    flush,
    [Symbol.asyncDispose]: async () => {
      clearInterval(timer)
      await flush()
    }
  }
}

/** The reason of a summary record: how many refusals, from whom, when, and why they were not recorded one by one. */
export function heldRefusalsReason (h: HeldRefusals, perMinute: number): string {
  return `${h.count} further refused call${h.count === 1 ? '' : 's'} without a known token from ${h.peer} between ` +
    `${new Date(h.firstAtMs).toISOString()} and ${new Date(h.lastAtMs).toISOString()}, counted here instead of one record each ` +
    `(more than ${perMinute} a minute from one address)`
}

/** Writes a service's audit records (autocal.audit.v1), anonymous refusals through the throttle. */
export interface AuditWriter extends AsyncDisposable {
  /** Publishes the record, or counts it for its peer's summary (an anonymous refusal over the budget): resolves with whether it was published. Rejects when the topic cannot be written. */
  write: (record: AuditRecord) => Promise<boolean>
  /** Writes the summaries held so far (tests, shutdown). */
  flush: () => Promise<number>
}

/**
 * The audit writer of a service: every record is published with event id "audit/<record id>", except an
 * anonymous refusal (principal "anonymous", not accepted) beyond `perMinute` from one peer address, which
 * is counted and published later as one summary record per peer and action (principal "anonymous", the
 * reason from {@link heldRefusalsReason}, details held_back, first_at, last_at). Rule: issue 12 (every
 * refusal audited) with the reviewer's finding of 2026-11-30 (an anonymous caller could flood the topic).
 */
export function createAuditWriter (options: { producer: Producer, perMinute: number, flushMs?: number, now?: () => number }): AuditWriter {
  const now = options.now ?? Date.now
  const publish = async (record: AuditRecord): Promise<void> => { await options.producer.publish(topics.audit, record, { eventId: `audit/${record.id}` }) }
  const throttle = createAnonymousAuditThrottle({
    perMinute: options.perMinute,
    now,
    ...(options.flushMs === undefined ? {} : { flushMs: options.flushMs }),
    writeSummary: async h => {
      await publish(create(AuditRecordSchema, {
        id: randomUUID(),
        at: timestampFromMs(now()),
        principal: 'anonymous',
        peer: h.peer,
        service: h.service,
        action: h.action,
        accepted: false,
        reason: heldRefusalsReason(h, options.perMinute),
        details: { held_back: String(h.count), first_at: new Date(h.firstAtMs).toISOString(), last_at: new Date(h.lastAtMs).toISOString() }
      }))
    }
  })
  return {
    write: async record => {
      if (!record.accepted && record.principal === 'anonymous' && !await throttle.admit(record.peer, record.action, record.service)) return false
      await publish(record)
      return true
    },
    flush: throttle.flush,
    [Symbol.asyncDispose]: async () => { await throttle[Symbol.asyncDispose]() }
  }
}
