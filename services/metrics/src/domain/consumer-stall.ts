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
