// Messages shared by the domain tests.
import { create } from '@bufbuild/protobuf'
import { timestampFromDate } from '@bufbuild/protobuf/wkt'
import { BlockKind, TaskEventSchema, TaskState, type TaskEvent } from '@autocal/contracts'

export function taskEvent (init: { state: TaskState, version: number, attempt?: number, at?: string, runEndedAt?: string, task?: string, runs?: number[], sync?: string, reason?: string, blockId?: string, subsystem?: string }): TaskEvent {
  const runs = init.runs ?? [355100]
  return create(TaskEventSchema, {
    subsystem: init.subsystem ?? 'ECAL',
    campaign: 'prompt',
    workflow: 'timing',
    task: init.task ?? 'timing-calib',
    block: { id: init.blockId ?? `run-${runs[0] ?? 0}`, kind: runs.length > 1 ? BlockKind.FILL : BlockKind.RUN, runs },
    state: init.state,
    previousState: TaskState.UNSPECIFIED,
    attempt: init.attempt ?? 1,
    version: BigInt(init.version),
    reason: init.reason ?? '',
    at: timestampFromDate(new Date(init.at ?? '2022-07-10T12:00:00Z')),
    ...(init.runEndedAt === undefined ? {} : { runEndedAt: timestampFromDate(new Date(init.runEndedAt)) }),
    conditionSync: init.sync ?? '',
    conditionTag: init.sync === undefined ? '' : 'EcalTimeCalibConstants_prompt'
  })
}
