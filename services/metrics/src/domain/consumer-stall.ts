// A stalled consumer: a group that has a backlog on a topic (lag > 0) and
// whose committed offset has not moved. For the job-executor group on
// autocal.jobs.requests.v1 that means no executor takes jobs (every executor
// down, or the batch connection gone and the executors stuck): the outage the
// original framework could not see. The same figure feeds the Prometheus rule
// (autocal_consumer_stalled_seconds) and the Mattermost notification.

export interface ConsumerReading {
  group: string
  topic: string
  /** Messages behind the high watermark. */
  lag: number
  /** Sum of the group's committed offsets on the topic's partitions. */
  committed: number
}

export interface StallState {
  committed: number
  /** Since when (ms) the group has had a backlog without committing. */
  since: number
}

export interface StallObservation {
  state: StallState
  /** How long (ms) the group has had a backlog without progress; 0 when it has no backlog or just moved. */
  stalledMs: number
}

/**
 * Folds one reading (at `now`, ms) into the state of its group and topic. The
 * stall starts at the last reading with no backlog or with a moved offset; a
 * first reading starts it now (the service knows nothing before).
 */
export function observeConsumer (previous: StallState | undefined, reading: ConsumerReading, now: number): StallObservation {
  if (previous === undefined || reading.lag <= 0 || reading.committed !== previous.committed) {
    return { state: { committed: reading.committed, since: now }, stalledMs: 0 }
  }
  return { state: previous, stalledMs: Math.max(0, now - previous.since) }
}

export interface LagSample {
  at: number
  lag: number
}

export type LagGrowth =
  | { growing: false }
  | { growing: true, from: LagSample, to: LagSample }

/**
 * Whether a group's lag on a topic has grown over the last `windowMs`, the
 * rule AutocalConsumerLagGrowing expresses: the readings reach back at least
 * `windowMs`, the lag stayed above 0 within it, the last one is at least
 * `minLag` and above the one at the window's start. `samples` oldest first.
 */
export function lagGrowth (samples: readonly LagSample[], windowMs: number, minLag: number): LagGrowth {
  const last = samples[samples.length - 1]
  if (last === undefined || last.lag < minLag) return { growing: false }
  const startIndex = samples.findLastIndex(s => s.at <= last.at - windowMs)
  if (startIndex < 0) return { growing: false }
  const from = samples[startIndex] as LagSample
  if (samples.slice(startIndex).some(s => s.lag <= 0) || last.lag <= from.lag) return { growing: false }
  return { growing: true, from, to: last }
}

/** Drops the samples no longer needed to judge growth over `windowMs` at `now` (keeps the last one at or before the window's start). */
export function trimLagSamples (samples: readonly LagSample[], now: number, windowMs: number): LagSample[] {
  return samples.slice(Math.max(0, samples.findLastIndex(s => s.at <= now - windowMs)))
}
