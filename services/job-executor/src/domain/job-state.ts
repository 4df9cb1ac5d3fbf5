// The job state machine of the executor's job table: every change of a held
// job's state, owner or agent after it was claimed is decided here, from the
// entry as stored; the job store only persists the decision (compare-and-set
// in Redis, so a decision made on an entry that changed meanwhile is not
// written).
//
//   (claim) ──► queued ──assign(agent)──► assigned ──(agent reports)──► running
//                 │  ▲                      │
//                 │  └──────requeue─────────┘   (the agent was lost; not when it came back)
//                 └──drop-queued──► (gone, done)   (cancelled before any agent took it)
//   any state: take-over (a dead owner's job passes to a live executor)
//   assigned:  reattach (the agent registers again: the executor its stream is on owns the job)
//
// Local and batch jobs change state (starting, running) in the executor that
// owns them, which writes its own entry; only the changes that another
// executor or an agent may race with pass through here.

/** What the machine reads of a job table entry (the rest of the entry is carried over unchanged). */
export interface JobRecord {
  state: 'queued' | 'starting' | 'running' | 'assigned'
  owner: string
  agent?: string
}

export type JobChange =
  /** A live executor takes the job of a dead owner `from`. */
  | { kind: 'take-over', from: string, to: string }
  /** A queued agent job goes to `agent`, owned by the executor `owner` whose stream the agent is on. */
  | { kind: 'assign', agent: string, owner: string }
  /** `agent` registered again (on the stream of executor `owner`) and keeps its job. */
  | { kind: 'reattach', agent: string, owner: string }
  /** `agent` was lost: its job goes back to the queue. */
  | { kind: 'requeue', agent: string }
  /** A queued job is cancelled before any agent took it: it leaves the table, marked done. */
  | { kind: 'drop-queued' }

export type JobDecision<E extends JobRecord> =
  | { kind: 'write', entry: E }
  /** The entry leaves the table and the job is marked done (a redelivered request starts nothing). */
  | { kind: 'finish' }
  /** Nothing to write; `reason` says why (for logs and tests). */
  | { kind: 'unchanged', reason: string }

/**
 * Decides `change` on the stored `entry` (undefined: not in the table).
 * Pure; returns a new entry, never mutates the given one.
 */
export function decideJobChange<E extends JobRecord> (entry: E | undefined, change: JobChange): JobDecision<E> {
  if (entry === undefined) return { kind: 'unchanged', reason: 'the job is not in the table' }
  switch (change.kind) {
    case 'take-over':
      if (entry.owner !== change.from) return { kind: 'unchanged', reason: `owned by ${entry.owner}, not ${change.from}` }
      return { kind: 'write', entry: { ...entry, owner: change.to } }
    case 'assign':
      if (entry.state !== 'queued') return { kind: 'unchanged', reason: `${entry.state}, not queued` }
      return { kind: 'write', entry: { ...entry, state: 'assigned', agent: change.agent, owner: change.owner } }
    case 'reattach':
      if (entry.agent !== change.agent) return { kind: 'unchanged', reason: `not assigned to agent ${change.agent}` }
      return { kind: 'write', entry: { ...entry, owner: change.owner } }
    case 'requeue': {
      if (entry.agent !== change.agent) return { kind: 'unchanged', reason: `not assigned to agent ${change.agent}` }
      const { agent: _agent, ...rest } = entry
      return { kind: 'write', entry: { ...rest, state: 'queued' } as E }
    }
    case 'drop-queued':
      if (entry.state !== 'queued') return { kind: 'unchanged', reason: `${entry.state}, not queued` }
      return { kind: 'finish' }
  }
}
